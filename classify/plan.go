package classify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gokentik/kentik/enums"
)

// DefaultBatchSize is the number of interface ids per ManualClassify request unless
// Options.BatchSize says otherwise.
//
// Kentik documents no cap on interface_ids, and a request with 1000 numeric ids is about
// 10 KB on the wire, far below gRPC's 4 MiB default message limit. The admin policy
// counts requests, not ids (at most 60 a minute, and with one call at a time the soft
// limit's delays bring the steady rate to 40 a minute), so larger batches classify more
// interfaces per minute: at 1000 ids a request a million interfaces take 1000 requests,
// about 25 minutes, where 100 ids a request would take 10,000 requests, over 4 hours.
// Against that, a request that fails (after the client's retries) fails its whole batch,
// a retry re-sends it whole, and a server may have a cap it does not publish. 1000 keeps
// a failed or re-sent batch at 1000 ids (which land in the failed file for a rerun) while
// a million-interface job stays well under an hour.
const DefaultBatchSize = 1000

// MaxBatchSize is the most interface ids Options.BatchSize may put in one request.
//
// A request must fit in the server's receive limit, which for gRPC servers is 4 MiB
// unless they raise it, and a request over it is refused whole. Each id costs at most 22
// bytes on the wire (a 64-bit id is at most 20 digits, plus 2 bytes of framing), so
// 10,000 ids and the longest provider make a request of about 215 KiB, a twentieth of
// that limit, while a million-interface job still needs only 100 requests. Larger
// batches would save little time (the job is paced by requests, and 100 take under 3
// minutes at the admin policy's pace) against a whole batch lost to one failure.
const MaxBatchSize = 10_000

// maxRequestBytes bounds a ManualClassify request of MaxBatchSize ids: a quarter of
// gRPC's default 4 MiB receive limit (TestLargestRequest checks it).
const maxRequestBytes = 1 << 20

// DefaultMaxErrors is how many bad rows an error message lists before "and N more".
const DefaultMaxErrors = 20

// Options tune how a plan is read and cut into batches.
type Options struct {
	// Format of the file; FormatAuto (the zero value) sniffs it.
	Format Format
	// BatchSize is the most ids per ManualClassify request, at most MaxBatchSize; 0
	// means DefaultBatchSize.
	BatchSize int
	// SkipInvalid sends the good rows of a plan that has bad ones, instead of refusing
	// the whole plan (the default).
	SkipInvalid bool
	// RejectFile, when set together with SkipInvalid, receives every rejected row as
	// it was in the plan plus a "reason" column (CSV) or as
	// {"line":N,"reason":"...","row":"..."} (JSON lines). Either is a plan: the reason
	// column is ignored, and a JSON-lines reject record is read as its row, so the file
	// can be fixed and loaded as it is. Load refuses one that is the plan itself.
	RejectFile string
	// MaxErrors caps the bad rows kept for messages; 0 means DefaultMaxErrors.
	MaxErrors int
	// MaxSpool is the most bytes LoadReader copies to a temporary file (and Load, for
	// a plan that is a pipe or a device); 0 means DefaultMaxSpool. A larger plan fails
	// with ErrSpoolTooLarge.
	MaxSpool int64
}

// RowError is a bad row: the file, the 1-based line the row starts on, and why.
type RowError struct {
	File   string
	Line   int
	Reason string
}

// Error renders "file:line: reason".
func (e *RowError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// PlanError is returned by Load when a plan has bad rows and Options.SkipInvalid is not
// set: nothing may be sent. Errors holds the first bad rows in line order (at most
// Options.MaxErrors); Total counts them all.
type PlanError struct {
	File   string
	Errors []*RowError
	Total  int
}

// Error lists the bad rows, one per line, and how many more there are.
func (e *PlanError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad row%s, nothing sent (fix them, or set Options.SkipInvalid to send the good rows):", e.File, e.Total, plural(e.Total))
	hint := map[string]bool{}
	for _, r := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(r.Error())
		for _, col := range []string{colType, colBoundary} {
			if strings.HasPrefix(r.Reason, "unknown "+col) {
				hint[col] = true
			}
		}
	}
	if n := e.Total - len(e.Errors); n > 0 {
		fmt.Fprintf(&b, "\n  and %d more", n)
	}
	if hint[colType] {
		b.WriteString("\n  connectivity_type is one of: " + strings.Join(enums.ConnectivityTypeNames(), ", "))
	}
	if hint[colBoundary] {
		b.WriteString("\n  network_boundary is one of: " + strings.Join(enums.NetworkBoundaryNames(), ", ") + " (or empty)")
	}
	return b.String()
}

// ErrPlanChanged is returned when the plan file changed between the passes.
var ErrPlanChanged = errors.New("classify: the plan file changed while the job ran")

// Group is a set of interfaces that get the same classification.
type Group struct {
	Index int // position among the plan's groups (order of first appearance); stable for a given plan
	Classification
	Interfaces int // distinct interface ids
	Batches    int // ManualClassify requests: ceil(Interfaces / BatchSize)
}

// Batch is one ManualClassify request's worth of ids. (Group, Seq) identifies it: batch
// Seq of a group holds the group's ids number Seq*BatchSize up to (Seq+1)*BatchSize, in
// file order.
type Batch struct {
	Group int
	Seq   int
	Classification
	IDs []string
}

// Plan is a validated plan file: its groups and counts. It reads the file again to
// produce the batches (Batches), so it holds no ids beyond what duplicate detection needs.
type Plan struct {
	Name      string // the file as the user named it ("-" reads as "stdin")
	Path      string // the file read; "" for a plan spooled from a reader, a pipe or a device
	Format    Format
	SHA256    string // hex SHA-256 of the file's bytes
	BatchSize int

	Groups     []Group // groups with at least one interface, in Index order; read only
	Rows       int     // data rows read (blank lines and the header not counted)
	Interfaces int     // distinct interface ids to classify
	Duplicates int     // rows that repeat an earlier row's id and classification (dropped)
	Rejected   int     // bad rows, skipped (only with SkipInvalid; otherwise Load fails)
	Errors     []*RowError
	// IgnoredColumns are CSV header columns that are not part of a plan.
	IgnoredColumns []string

	groups  []Group            // every group, by Index (some may have become empty)
	seed    maphash.Seed       // hash of ids for ids
	ids     map[uint64]idEntry // hash(id) -> first occurrence
	exact   map[string]uint32  // ids whose hash collided with another id's -> group
	skip    []uint32           // lines pass 2 skips: bad, duplicate and conflicting rows (sorted)
	size    int64              // file size and time seen by pass 1
	modTime time.Time          //
	spool   *os.File           // the temporary copy of a plan read from a reader; closed by Close
	tmpName string             // the copy's name, when it could not be removed at once; removed by Close
	index   map[Classification]int
}

// hashID keys the id set. maphash with a per-plan random seed is fast and, with 64 bits,
// makes any collision among a million ids a one-in-37-million event; resolve
// compares the ids themselves whenever two rows share a hash, so a collision costs a
// re-read of a few rows, never a wrong answer. (A variable so that tests can force
// collisions.)
var hashID = func(seed maphash.Seed, id string) uint64 { return maphash.String(seed, id) }

type idEntry struct {
	group uint32 // group index of the first occurrence
	line  uint32 // line of the first occurrence
}

// Requests is the number of ManualClassify requests the plan needs: the sum over groups
// of ceil(Interfaces / BatchSize), the fewest possible.
func (p *Plan) Requests() int {
	n := 0
	for _, g := range p.Groups {
		n += g.Batches
	}
	return n
}

// Close releases the temporary copy of a plan read from a reader, if any.
func (p *Plan) Close() error {
	if p.spool == nil {
		return nil
	}
	err := p.spool.Close()
	if p.tmpName != "" {
		if rerr := os.Remove(p.tmpName); err == nil {
			err = rerr
		}
	}
	p.spool, p.tmpName = nil, ""
	return err
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0, without overflow.
func ceilDiv(a, b int) int {
	n := a / b
	if a%b != 0 {
		n++
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// LoadReader copies r (e.g. stdin) to a temporary file, at most Options.MaxSpool bytes,
// then loads it as Load does, so that the whole plan is validated before anything is
// sent. name is used in messages. The copy has no name in the file system (a job killed
// outright leaves nothing behind) and is released by Plan.Close (or at once when loading
// fails). When ctx ends, the copy stops at once, even during a read of r that blocks (a
// silent stdin); r should not be read after that.
func LoadReader(ctx context.Context, name string, r io.Reader, opts Options) (*Plan, error) {
	if opts.MaxSpool < 0 {
		return nil, fmt.Errorf("classify: Options.MaxSpool %d: want a positive number of bytes, or 0 for DefaultMaxSpool", opts.MaxSpool)
	}
	f, fname, err := spool(ctx, name, r, opts.maxSpool())
	if err != nil {
		return nil, err
	}
	p, err := load(ctx, name, "", f, opts)
	if err != nil {
		f.Close()
		if fname != "" {
			os.Remove(fname)
		}
		return nil, err
	}
	p.tmpName = fname
	return p, nil
}

// Load reads and validates the plan at path (pass 1): every row is checked, duplicates
// are found, and the groups are counted. When rows are bad and opts.SkipInvalid is not
// set it returns a *PlanError and nothing must be sent. Other errors are a file that
// cannot be read or a CSV header that is missing or wrong. A path that is not a regular
// file (a named pipe, /dev/stdin) is copied to a temporary file first, as LoadReader
// does; Plan.Close removes the copy.
func Load(ctx context.Context, path string, opts Options) (*Plan, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// A pipe (`--file <(generate-plan)` in a shell) or a device can be read only
		// once, and every pass opens the file again (a FIFO's open would wait for a
		// writer that never comes): spool it like stdin.
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("classify: %w", err)
		}
		defer f.Close()
		return LoadReader(ctx, path, f, opts)
	}
	return load(ctx, path, path, nil, opts)
}

// load loads the plan at path, or in the spool sp when it is not nil.
func load(ctx context.Context, name, path string, sp *os.File, opts Options) (*Plan, error) {
	if name == "-" {
		name = "stdin"
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.BatchSize < 0 || opts.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("classify: Options.BatchSize %d: want 1 to %d (MaxBatchSize)", opts.BatchSize, MaxBatchSize)
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	p := &Plan{
		Name:      name,
		Path:      path,
		spool:     sp,
		Format:    opts.Format,
		BatchSize: opts.BatchSize,
		seed:      maphash.MakeSeed(),
		ids:       make(map[uint64]idEntry),
		index:     make(map[Classification]int),
	}
	if opts.SkipInvalid && opts.RejectFile != "" && sameFile(opts.RejectFile, path) {
		return nil, fmt.Errorf("classify: the reject file %s is the plan itself: it would be overwritten while it is read; name another reject file", opts.RejectFile)
	}
	l := &loader{p: p, opts: opts}
	defer l.closeReject()
	if err := l.pass1(ctx); err != nil {
		return nil, err
	}
	if len(l.suspects) > 0 {
		if err := l.resolve(ctx); err != nil {
			return nil, err
		}
	}
	if err := l.closeReject(); err != nil {
		return nil, fmt.Errorf("classify: writing the reject file: %w", err)
	}
	slices.Sort(p.skip)
	p.Errors = l.errors()
	// The groups are the bulk of a plan with many distinct classifications (a million
	// providers): keep one slice of exactly their number, shared by Groups unless some
	// group lost all its rows to conflicts, and drop the index, which only Load needs.
	p.groups = slices.Clone(p.groups)
	p.index = nil
	empty := false
	for i := range p.groups {
		g := &p.groups[i]
		g.Batches = ceilDiv(g.Interfaces, p.BatchSize)
		p.Interfaces += g.Interfaces
		empty = empty || g.Interfaces == 0
	}
	p.Groups = p.groups
	if empty {
		p.Groups = nil
		for _, g := range p.groups {
			if g.Interfaces > 0 {
				p.Groups = append(p.Groups, g)
			}
		}
	}
	if l.rejected > 0 && !opts.SkipInvalid {
		return nil, &PlanError{File: name, Errors: p.Errors, Total: l.rejected}
	}
	p.Rejected = l.rejected
	return p, nil
}

// loader holds what pass 1 needs besides the Plan.
type loader struct {
	p        *Plan
	opts     Options
	suspects map[uint64][]uint32 // hash -> later lines with the same hash as an earlier row
	parseErr []*RowError         // first MaxErrors rows that could not be parsed
	conflict []*RowError         // first MaxErrors rows rejected for a conflicting duplicate
	rejected int
	reject   *rejectWriter
	header   []string
	rp       rowParser
}

// planFile is one pass's view of a plan: the file, or the spool.
type planFile interface {
	io.Reader
	Stat() (os.FileInfo, error)
	Close() error
}

// openFile opens the plan for one pass: the spool from its start, or the file.
func (p *Plan) openFile() (planFile, error) {
	if p.spool != nil {
		st, err := p.spool.Stat()
		if err != nil {
			return nil, fmt.Errorf("classify: %w", err)
		}
		return spoolFile{io.NewSectionReader(p.spool, 0, st.Size()), p.spool}, nil
	}
	if p.Path == "" {
		return nil, fmt.Errorf("classify: the plan %s is closed", p.Name)
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	return f, nil
}

// open opens the plan file for one pass, sniffing the format the first time, and
// returns a row reader and the hash of everything read through it.
func (l *loader) open() (planFile, rowReader, hash.Hash, error) {
	f, err := l.p.openFile()
	if err != nil {
		return nil, nil, nil, err
	}
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 64<<10)
	if l.p.Format == FormatAuto {
		if l.p.Format, err = sniff(br); err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("classify: reading %s: %w", l.p.Name, err)
		}
	}
	if l.p.Format == FormatJSONL {
		return f, newJSONLReader(br), h, nil
	}
	c, err := newCSVReader(br)
	if err != nil {
		f.Close()
		var he *headerError
		if errors.As(err, &he) {
			return nil, nil, nil, fmt.Errorf("classify: %s:%d: %s", l.p.Name, he.line, he.reason)
		}
		return nil, nil, nil, fmt.Errorf("classify: reading %s: %w", l.p.Name, err)
	}
	l.header = c.header
	l.p.IgnoredColumns = c.extra
	return f, c, h, nil
}

// pass1 validates every row, counts the groups, and records each id's hash.
func (l *loader) pass1(ctx context.Context) error {
	f, rr, h, err := l.open()
	if err != nil {
		return err
	}
	defer f.Close()
	p := l.p
	err = eachRecord(ctx, p.Name, rr, func(rec record) error {
		p.Rows++
		if rec.line > math.MaxUint32 {
			return fmt.Errorf("classify: %s: more than %d lines", p.Name, uint32(math.MaxUint32))
		}
		if rec.bad != "" {
			return l.bad(rec.line, rec.bad, rr.original(), &l.parseErr)
		}
		id, c, reason := l.rp.parse(rec.fields[0], rec.fields[1], rec.fields[2], rec.fields[3])
		if reason != "" {
			return l.bad(rec.line, reason, rr.original(), &l.parseErr)
		}
		g := l.group(c)
		k := hashID(p.seed, id)
		if _, dup := p.ids[k]; dup {
			// The same id again, or (very rarely) another id with the same hash:
			// resolve will tell, comparing the ids themselves.
			if l.suspects == nil {
				l.suspects = make(map[uint64][]uint32)
			}
			l.suspects[k] = append(l.suspects[k], uint32(rec.line))
			return nil
		}
		p.ids[k] = idEntry{group: uint32(g), line: uint32(rec.line)}
		p.groups[g].Interfaces++
		return nil
	})
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("classify: %w", err)
	}
	p.size, p.modTime = st.Size(), st.ModTime()
	p.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// errStopReading, returned by an eachRecord callback, ends the reading without an error.
var errStopReading = errors.New("stop reading")

// eachRecord calls fn with every row rr reads, to the end of the plan or until fn returns
// an error (errStopReading: stop, no error). It checks ctx every 1024 rows and names the
// plan in read errors. The passes over a plan (validation, duplicate resolution,
// batching) all read it this way.
func eachRecord(ctx context.Context, name string, rr rowReader, fn func(record) error) error {
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := rr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("classify: reading %s: %w", name, err)
		}
		if err := fn(rec); err != nil {
			if err == errStopReading {
				return nil
			}
			return err
		}
	}
}

// group returns the index of c's group, creating it.
func (l *loader) group(c Classification) int {
	g, ok := l.p.index[c]
	if !ok {
		// The provider is a slice of the whole record's text: copy it, so that the
		// group does not keep the record alive.
		c.Provider = strings.Clone(c.Provider)
		g = len(l.p.groups)
		l.p.index[c] = g
		l.p.groups = append(l.p.groups, Group{Index: g, Classification: c})
	}
	return g
}

// bad records a rejected row.
func (l *loader) bad(line int, reason string, orig []string, list *[]*RowError) error {
	l.rejected++
	l.p.skip = append(l.p.skip, uint32(line))
	if len(*list) < l.opts.MaxErrors {
		*list = append(*list, &RowError{File: l.p.Name, Line: line, Reason: reason})
	}
	if !l.opts.SkipInvalid || l.opts.RejectFile == "" {
		return nil
	}
	if l.reject == nil {
		w, err := newRejectWriter(l.opts.RejectFile, l.p.Format, l.header)
		if err != nil {
			return fmt.Errorf("classify: %w", err)
		}
		l.reject = w
	}
	if err := l.reject.write(line, reason, orig); err != nil {
		return fmt.Errorf("classify: writing the reject file: %w", err)
	}
	return nil
}

func (l *loader) closeReject() error {
	if l.reject == nil {
		return nil
	}
	err := l.reject.close()
	l.reject = nil
	return err
}

// errors merges the parse and conflict errors in line order, capped.
func (l *loader) errors() []*RowError {
	all := append(append([]*RowError(nil), l.parseErr...), l.conflict...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	if len(all) > l.opts.MaxErrors {
		all = all[:l.opts.MaxErrors]
	}
	return all
}

// occurrence is a row whose id shares its hash with another row's.
type occurrence struct {
	line uint32
	id   string
	c    Classification
	orig []string
}

// resolve re-reads the rows involved in hash repeats and decides, comparing the ids
// themselves, which are duplicates (same id, same classification: dropped), which are
// conflicts (same id, different classifications: every row of that id rejected, since
// there is no telling which one is meant), and which are distinct ids that merely share a
// hash (counted like any other id). Only these rows are held in memory.
func (l *loader) resolve(ctx context.Context) error {
	p := l.p
	want := make(map[uint32]uint64) // line -> hash
	for k, lines := range l.suspects {
		want[p.ids[k].line] = k
		for _, ln := range lines {
			want[ln] = k
		}
	}
	byKey := make(map[uint64][]occurrence, len(l.suspects))
	f, rr, _, err := l.open()
	if err != nil {
		return err
	}
	defer f.Close()
	err = eachRecord(ctx, p.Name, rr, func(rec record) error {
		k, ok := want[uint32(rec.line)]
		if !ok || rec.bad != "" {
			return nil
		}
		id, c, reason := l.rp.parse(rec.fields[0], rec.fields[1], rec.fields[2], rec.fields[3])
		if reason != "" {
			return nil
		}
		delete(want, uint32(rec.line))
		byKey[k] = append(byKey[k], occurrence{line: uint32(rec.line), id: id, c: c, orig: rr.original()})
		if len(want) == 0 {
			return errStopReading // every suspect row is found: the rest need not be read
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(want) > 0 {
		return fmt.Errorf("%w (rows went missing between two reads)", ErrPlanChanged)
	}
	var conflicts []occurrence
	// Visit the hashes in line order, so that the groups and the error list do not
	// depend on map iteration order.
	keys := make([]uint64, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return byKey[keys[i]][0].line < byKey[keys[j]][0].line })
	for _, k := range keys {
		occ := byKey[k] // in line order; occ[0] is the row counted by pass 1
		first := occ[0].id
		ids := map[string][]occurrence{}
		var order []string
		for _, o := range occ {
			if _, ok := ids[o.id]; !ok {
				order = append(order, o.id)
			}
			ids[o.id] = append(ids[o.id], o)
		}
		for _, id := range order {
			rows := ids[id]
			same := true
			for _, o := range rows[1:] {
				if o.c != rows[0].c {
					same = false
				}
			}
			switch {
			case !same:
				if id == first {
					p.groups[p.ids[k].group].Interfaces--
				}
				conflicts = append(conflicts, rows...)
				if id != first {
					p.exactAdd(id, math.MaxUint32) // a known id that must not be sent
				} else {
					p.ids[k] = idEntry{group: math.MaxUint32, line: p.ids[k].line}
				}
			default:
				for _, o := range rows[1:] {
					p.Duplicates++
					p.skip = append(p.skip, o.line)
				}
				if id != first { // a distinct id that shares its hash with first
					g := p.index[rows[0].c]
					p.groups[g].Interfaces++
					p.exactAdd(id, uint32(g))
				}
			}
		}
	}
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].line < conflicts[j].line })
	byID := map[string][]occurrence{}
	for _, o := range conflicts {
		byID[o.id] = append(byID[o.id], o)
	}
	for _, o := range conflicts {
		if err := l.bad(int(o.line), conflictReason(o.id, byID[o.id]), o.orig, &l.conflict); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) exactAdd(id string, g uint32) {
	if p.exact == nil {
		p.exact = make(map[string]uint32)
	}
	p.exact[id] = g
}

func conflictReason(id string, rows []occurrence) string {
	var b strings.Builder
	fmt.Fprintf(&b, "interface_id %s is classified differently on lines ", clip(id))
	for i, o := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 5 {
			fmt.Fprintf(&b, "and %d more", len(rows)-i)
			break
		}
		fmt.Fprintf(&b, "%d (%s)", o.line, o.c)
	}
	return b.String()
}

// Batches reads the plan again (pass 2) and calls fn with each batch as soon as it is
// full or holds the last of its group's ids. fn owns Batch.IDs. Batches stops at the
// first error fn returns, and returns it.
//
// Batch numbering depends only on the file and BatchSize, so a Journal written by one
// run matches the batches of the next. If the file changed since Load, Batches returns
// an error wrapping ErrPlanChanged as soon as it notices (a row whose id or
// classification was not seen by Load, a different size or a different hash).
func (p *Plan) Batches(ctx context.Context, fn func(Batch) error) error {
	f, err := p.openFile()
	if err != nil {
		return err
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("classify: %w", err)
	}
	if st.Size() != p.size || !st.ModTime().Equal(p.modTime) {
		return fmt.Errorf("%w: %s was modified after it was validated", ErrPlanChanged, p.Name)
	}
	l := &loader{p: p, opts: Options{Format: p.Format}}
	f, rr, h, err := l.open()
	if err != nil {
		return err
	}
	defer f.Close()
	bufs := make([][]string, len(p.groups))
	seqs := make([]int, len(p.groups))
	sent := make([]int, len(p.groups))
	emit := func(g int) error {
		b := Batch{Group: g, Seq: seqs[g], Classification: p.groups[g].Classification, IDs: bufs[g]}
		seqs[g]++
		sent[g] += len(bufs[g])
		bufs[g] = nil
		return fn(b)
	}
	skip := p.skip
	changed := func(line int, why string) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrPlanChanged, p.Name, line, why)
	}
	err = eachRecord(ctx, p.Name, rr, func(rec record) error {
		for len(skip) > 0 && int(skip[0]) < rec.line {
			skip = skip[1:]
		}
		if len(skip) > 0 && int(skip[0]) == rec.line {
			return nil
		}
		if rec.bad != "" {
			return changed(rec.line, rec.bad)
		}
		id, c, reason := l.rp.parse(rec.fields[0], rec.fields[1], rec.fields[2], rec.fields[3])
		if reason != "" {
			return changed(rec.line, reason)
		}
		g, ok := p.exact[id]
		if !ok {
			e, found := p.ids[hashID(p.seed, id)]
			if !found {
				return changed(rec.line, "an interface_id that was not there before")
			}
			g = e.group
		}
		if g == math.MaxUint32 || int(g) >= len(p.groups) || p.groups[g].Classification != c {
			return changed(rec.line, "a classification that was not there before")
		}
		if sent[g]+len(bufs[g]) >= p.groups[g].Interfaces {
			// More rows of this classification than Load counted: the file grew
			// while it was read (and the capacity below would go negative).
			return changed(rec.line, "a row that was not there before")
		}
		if bufs[g] == nil {
			bufs[g] = make([]string, 0, min(p.BatchSize, p.groups[g].Interfaces-sent[g]))
		}
		bufs[g] = append(bufs[g], id)
		if len(bufs[g]) == p.BatchSize || sent[g]+len(bufs[g]) == p.groups[g].Interfaces {
			// Full, or the group's last: a plan with a million small groups must not
			// hold them all to the end.
			return emit(int(g))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("%w: %s has a different SHA-256 now", ErrPlanChanged, p.Name)
	}
	for g := range bufs {
		if len(bufs[g]) > 0 {
			if err := emit(g); err != nil {
				return err
			}
		}
		if sent[g] != p.groups[g].Interfaces {
			return fmt.Errorf("%w: group %s has %d interfaces, not %d", ErrPlanChanged, p.groups[g].Classification, sent[g], p.groups[g].Interfaces)
		}
	}
	return nil
}
