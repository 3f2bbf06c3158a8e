package classify

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrJournalMismatch is wrapped by the error returned when a journal was written for
// another plan or another batch size: resuming from it would skip the wrong interfaces.
var ErrJournalMismatch = errors.New("classify: the journal belongs to another job")

// BatchSizeMismatchError is the ErrJournalMismatch of a journal written for the same
// plan with another batch size: the job resumes only with that size.
type BatchSizeMismatchError struct {
	Journal          string // the journal's path
	JournalBatchSize int    // the batch size the journal was written with
	PlanBatchSize    int    // the batch size asked for now
}

// Error implements error.
func (e *BatchSizeMismatchError) Error() string {
	return fmt.Sprintf("%v: %s was written with batch size %d, not %d; rerun with batch size %d (Options.BatchSize), or use a new journal file",
		ErrJournalMismatch, e.Journal, e.JournalBatchSize, e.PlanBatchSize, e.JournalBatchSize)
}

// Is makes errors.Is(err, ErrJournalMismatch) true.
func (e *BatchSizeMismatchError) Is(target error) bool { return target == ErrJournalMismatch }

// ErrJournalInUse is wrapped by the error returned when another running job (in this
// process or another) holds the journal: two jobs appending to one journal would each
// skip what the other sent and leave neither a true record.
var ErrJournalInUse = errors.New("classify: the journal is in use by another running job")

// journalMagic names the format of a journal; it changes when the format does, or batch
// numbering. Format 1 had no checksums (see journal).
const (
	journalMagic   = "kentik-classify-journal/2"
	journalMagicV1 = "kentik-classify-journal/1"
)

// journalHeader is the first line of a journal.
type journalHeader struct {
	Journal    string `json:"journal"`
	ID         string `json:"id"` // random, per journal: what its checksums are keyed to
	PlanSHA256 string `json:"plan_sha256"`
	BatchSize  int    `json:"batch_size"`
	Groups     int    `json:"groups"`
	Requests   int    `json:"requests"`
	Interfaces int    `json:"interfaces"`
	Plan       string `json:"plan,omitempty"`
	Created    string `json:"created,omitempty"`
}

// journalAck is one acknowledged batch.
type journalAck struct {
	Group int    `json:"g"`
	Seq   int    `json:"b"`
	Count int    `json:"n"`
	Sum   string `json:"sum"` // ackSum of the batch
}

type batchKey struct{ group, seq int }

// ack is what the journal says of a batch: how many ids, and the checksum written.
type ack struct {
	n   int
	sum string
}

// ackSumLen is the length of an acknowledgement's checksum in hex: 128 bits.
const ackSumLen = 32

// ackSum is the checksum of an acknowledgement of b in the journal id of the plan
// planSHA: a truncated SHA-256 of all of them, b's ids included. A line changed to name
// another batch, copied from another journal (another id), or written for another plan no
// longer matches. It is not a secret: it catches damage and edits, not a forger who reads
// this code.
func ackSum(id, planSHA string, b Batch) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00%d", journalMagic, id, planSHA, b.Group, b.Seq, len(b.IDs))
	for _, x := range b.IDs {
		h.Write([]byte{0})
		io.WriteString(h, x)
	}
	return hex.EncodeToString(h.Sum(nil)[:ackSumLen/2])
}

// journal records acknowledged batches durably: one JSON line per batch, appended and
// fsynced before the batch counts as done. A rerun with the same plan skips what the
// journal holds, so a job killed at any point (even with SIGKILL) re-sends at most the
// batches that were in flight. ManualClassify sets a classification, so re-sending a
// batch is harmless.
//
// The file is:
//
//	{"journal":"kentik-classify-journal/2","id":"…","plan_sha256":"…","batch_size":1000,…}
//	{"g":0,"b":0,"n":1000,"sum":"…"}
//	{"g":2,"b":0,"n":17,"sum":"…"}
//
// A last line cut short by a crash is dropped (and cut off the file before anything is
// appended); a bad line followed by good ones means the file was damaged otherwise and
// is refused, and so is a line that names a batch the plan does not have.
//
// Each acknowledgement carries a checksum of its batch's ids and of the journal's id
// (ackSum), which is checked when pass 2 reaches the batch: a line that was changed to
// name another batch, or copied from another journal, does not match, and its batch is
// sent again (and counted in Summary.JournalRejected) rather than skipped. Sending it
// again is harmless and finishes the job correctly; refusing would only be possible
// after the job had started, since the ids are read in pass 2, and would leave the user
// to repair the journal by hand. Format 1 journals, without checksums, are refused.
type journal struct {
	path string
	id   string // the header's id
	plan string // the header's plan SHA-256
	mu   sync.Mutex
	f    *os.File
	done map[batchKey]ack
	// unlocked is set when the file system could not lock the journal: a second job
	// on it would not be refused.
	unlocked bool
}

// openJournal opens the journal at path for p, creating it if it does not exist or holds
// nothing but a torn header. With readOnly it never writes (dry run) and a missing
// file means nothing is done.
func openJournal(path string, p *Plan, readOnly bool) (*journal, error) {
	j := &journal{path: path, done: make(map[batchKey]ack)}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// A device would be read for ever (/dev/zero) or not keep what is written.
		return nil, fmt.Errorf("classify: journal: %s is not a regular file", path)
	}
	if readOnly {
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("classify: journal: %w", err)
		}
		if _, err := j.load(data, p); err != nil {
			return nil, err
		}
		return j, nil
	}
	// The journal file itself is locked (not a lock file next to it), for as long as the
	// job runs: the operating system drops the lock when the process ends, SIGKILL
	// included, so a crash never leaves a stale lock behind.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("classify: journal: %w", err)
	}
	if err := j.openLocked(f, p); err != nil {
		f.Close()
		return nil, err
	}
	j.f = f
	return j, nil
}

// openLocked locks f, reads it, and positions it for appending, writing the header first
// when f holds no complete one.
func (j *journal) openLocked(f *os.File, p *Plan) error {
	switch err := lockFile(f); {
	case errors.Is(err, errLocked):
		return fmt.Errorf("%w: %s (wait for it to finish, or give this job a journal of its own: Runner.Journal)", ErrJournalInUse, j.path)
	case errors.Is(err, errNoLocks):
		// A journal on a file system without locks still makes the job resumable,
		// which matters more than catching a second job on it: go on, unlocked.
		j.unlocked = true
	case err != nil:
		return fmt.Errorf("classify: journal: locking %s: %w", j.path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	good, err := j.load(data, p)
	if err != nil {
		return err
	}
	if good == 0 {
		return j.create(f, p)
	}
	if good < len(data) {
		// Cut off the torn last line, so that the next line starts on a line of its own.
		if err := f.Truncate(int64(good)); err != nil {
			return fmt.Errorf("classify: journal: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	if data[good-1] != '\n' {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("classify: journal: %w", err)
		}
	}
	return nil
}

// load parses a journal's contents and returns the length of its good prefix (0 when it
// has no complete header).
func (j *journal) load(data []byte, p *Plan) (int, error) {
	off, lineNo := 0, 0
	var header *journalHeader
	for off < len(data) {
		lineNo++
		nl := bytes.IndexByte(data[off:], '\n')
		last := nl < 0
		var line []byte
		if last {
			line = data[off:]
		} else {
			line = data[off : off+nl]
			last = off+nl+1 == len(data)
		}
		ok, err := j.line(line, lineNo, &header, p)
		if err != nil {
			return 0, err
		}
		if !ok {
			if nl < 0 || last {
				return off, nil // a torn last line: what was written before it stands
			}
			return 0, fmt.Errorf("classify: journal %s:%d: not a journal line; the file is damaged (start a new journal, or remove the line if you know what it was)", j.path, lineNo)
		}
		if nl < 0 {
			// A complete record without its newline (the crash came between the
			// two): it stands; openJournal adds the newline.
			return len(data), nil
		}
		off += nl + 1
	}
	return off, nil
}

// line parses one journal line. It reports false for a line that does not parse.
func (j *journal) line(line []byte, lineNo int, header **journalHeader, p *Plan) (bool, error) {
	if *header == nil {
		var h journalHeader
		parsed := json.Unmarshal(line, &h) == nil
		if parsed && h.Journal == journalMagicV1 {
			return false, fmt.Errorf("%w: %s is a journal of format 1, written by an earlier version, whose acknowledgements carry no checksums to verify; finish the job with that version, or start a new journal (every batch is then sent again, which is harmless)", ErrJournalMismatch, j.path)
		}
		if !parsed || h.Journal != journalMagic || len(h.ID) != 32 {
			if lineNo == 1 && looksLikeJournalStart(line) {
				return false, nil
			}
			return false, fmt.Errorf("%w: %s is not a kentik classify journal", ErrJournalMismatch, j.path)
		}
		if h.PlanSHA256 != p.SHA256 {
			return false, fmt.Errorf("%w: %s was written for another plan (SHA-256 %.12s…, this plan %.12s…); use the plan it was written for, or a new journal file", ErrJournalMismatch, j.path, h.PlanSHA256, p.SHA256)
		}
		if h.BatchSize != p.BatchSize {
			return false, &BatchSizeMismatchError{Journal: j.path, JournalBatchSize: h.BatchSize, PlanBatchSize: p.BatchSize}
		}
		*header = &h
		j.id, j.plan = h.ID, h.PlanSHA256
		return true, nil
	}
	var a journalAck
	if json.Unmarshal(line, &a) != nil || !isHex(a.Sum, ackSumLen) {
		return false, nil
	}
	if a.Group < 0 || a.Group >= len(p.groups) || a.Seq < 0 || a.Seq >= p.groups[a.Group].Batches || a.Count != batchLen(p, a.Group, a.Seq) {
		return false, fmt.Errorf("%w: %s:%d: batch %d of group %d with %d ids is not part of this plan", ErrJournalMismatch, j.path, lineNo, a.Seq, a.Group, a.Count)
	}
	j.done[batchKey{a.Group, a.Seq}] = ack{n: a.Count, sum: a.Sum}
	return true, nil
}

// isHex reports whether s is n lower-case hexadecimal digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// looksLikeJournalStart reports whether a torn first line could be the beginning of a
// journal header (a crash while the journal was being created).
func looksLikeJournalStart(line []byte) bool {
	return len(line) == 0 || bytes.HasPrefix([]byte(`{"journal":"`+journalMagic), line) || bytes.HasPrefix(line, []byte(`{"journal":"`+journalMagic))
}

// batchLen is the number of ids in batch seq of group g.
func batchLen(p *Plan, g, seq int) int {
	n := p.groups[g].Interfaces - seq*p.BatchSize
	return min(n, p.BatchSize)
}

// create writes a new journal's header into f (empty, or holding only a torn header),
// durably: file and directory entry. A crash while it writes leaves a torn header, which
// the next run replaces.
func (j *journal) create(f *os.File, p *Plan) error {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	h := journalHeader{
		Journal: journalMagic, ID: hex.EncodeToString(id[:]), PlanSHA256: p.SHA256, BatchSize: p.BatchSize,
		Groups: len(p.groups), Requests: p.Requests(), Interfaces: p.Interfaces,
		Plan: p.Name, Created: time.Now().UTC().Format(time.RFC3339),
	}
	b, _ := json.Marshal(h)
	err := f.Truncate(0)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	j.id, j.plan = h.ID, h.PlanSHA256
	syncDir(filepath.Dir(j.path))
	return nil
}

// syncDir makes a new directory entry durable. Some systems cannot sync a directory;
// that is not an error worth stopping for.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	defer d.Close()
	_ = d.Sync()
}

// check reports whether b was acknowledged by an earlier run (done), or whether the
// journal holds an acknowledgement of b whose checksum does not match b's ids (rejected):
// that acknowledgement is then forgotten, and b must be sent.
func (j *journal) check(b Batch) (done, rejected bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k := batchKey{b.Group, b.Seq}
	a, ok := j.done[k]
	if !ok {
		return false, false
	}
	if a.n == len(b.IDs) && a.sum == ackSum(j.id, j.plan, b) {
		return true, false
	}
	delete(j.done, k)
	return false, true
}

// doneCounts returns how many batches and interfaces the journal holds (as it claims:
// check verifies each when its batch is read).
func (j *journal) doneCounts() (batches, interfaces int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, a := range j.done {
		batches++
		interfaces += a.n
	}
	return
}

// record appends an acknowledged batch and syncs it to disk before returning.
func (j *journal) record(b Batch) error {
	sum := ackSum(j.id, j.plan, b)
	line, _ := json.Marshal(journalAck{Group: b.Group, Seq: b.Seq, Count: len(b.IDs), Sum: sum})
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("classify: journal is closed")
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("classify: journal: %w", err)
	}
	j.done[batchKey{b.Group, b.Seq}] = ack{n: len(b.IDs), sum: sum}
	return nil
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
