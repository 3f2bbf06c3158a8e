package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// The environment variables only the command reads (the clients read those of package
// kentik).
const (
	envConfig    = "KENTIK_CONFIG"         // the config file, instead of the default path
	envProfile   = "KENTIK_PROFILE"        // the profile to use
	envTokenFile = "KENTIK_API_TOKEN_FILE" // a file holding the API token
	envCAFile    = "KENTIK_CA_FILE"        // an extra CA to trust
	envRateLimit = "KENTIK_RATE_LIMIT"     // the rate-limit policy
	envLimiter   = "KENTIK_LIMITER"        // a shared limiter's URL
)

// defaultProfileName is the profile used when none is named, if the config file has it.
const defaultProfileName = "default"

// Bounds on what is read from files a user points the command at.
const (
	maxConfigFile = 1 << 20
	maxTokenFile  = 64 << 10
)

// config is the command's configuration file: named profiles, as JSON.
//
//	{"profiles": {"default": {"email": "you@example.com", "token_file": "~/.config/kentik/token", "region": "eu"}}}
//
// JSON because encoding/json parses it: no parser of our own to get wrong. Unknown keys
// are refused, so that a misspelt "tokenfile" is an error rather than a setting
// silently ignored.
type config struct {
	Profiles map[string]profile `json:"profiles"`
}

// profile is one named set of settings. Paths may start with ~/ (the home directory);
// relative paths are relative to the config file's directory.
type profile struct {
	Email        string `json:"email,omitempty"`
	Token        string `json:"token,omitempty"`
	TokenFile    string `json:"token_file,omitempty"`
	Region       string `json:"region,omitempty"`
	GRPCEndpoint string `json:"grpc_endpoint,omitempty"`
	APIURL       string `json:"api_url,omitempty"`
	RateLimit    string `json:"rate_limit,omitempty"`
	Limiter      string `json:"limiter,omitempty"`
	CAFile       string `json:"ca_file,omitempty"`
	Plaintext    bool   `json:"plaintext,omitempty"`
}

// holdsToken reports whether any profile keeps a token in the file itself.
func (c *config) holdsToken() bool {
	for _, p := range c.Profiles {
		if p.Token != "" {
			return true
		}
	}
	return false
}

// names lists the profiles, sorted.
func (c *config) names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkProfileName accepts names of letters, digits, '.', '_' and '-', up to 64 bytes.
func checkProfileName(name string) error {
	if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return fmt.Errorf("profile name %q: want letters, digits, '.', '_' or '-' (at most 64)", name)
	}
	return nil
}

// parseConfig reads a config file's contents: one JSON object, no unknown keys, valid
// profile names, and a token or a token file in a profile, not both.
func parseConfig(data []byte) (*config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a kentik config (JSON such as {\"profiles\": {\"default\": {\"email\": ..., \"token_file\": ...}}}): %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a kentik config: more than one JSON value")
	}
	for _, name := range c.names() {
		if err := checkProfileName(name); err != nil {
			return nil, err
		}
		p := c.Profiles[name]
		if p.Token != "" && p.TokenFile != "" {
			return nil, fmt.Errorf("profile %s has both token and token_file: keep one", name)
		}
	}
	if c.Profiles == nil {
		c.Profiles = map[string]profile{}
	}
	return &c, nil
}

// configPath is KENTIK_CONFIG, or config.json in the user's config directory
// (os.UserConfigDir()/kentik: ~/.config/kentik on Linux).
func (g *Globals) configPath() (string, error) {
	if p := strings.TrimSpace(g.getenv(envConfig)); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (set %s to a config file): %w", envConfig, err)
	}
	return filepath.Join(dir, "kentik", "config.json"), nil
}

// loadConfig reads the config file at path. A config that keeps a token must be
// private to its owner (checkPrivate). A missing file is (nil, fs.ErrNotExist).
func loadConfig(path string) (*config, error) {
	data, st, err := readSmallFile(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	c, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.holdsToken() {
		if err := checkPrivate(path, st); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// saveConfig writes c to path atomically (a temporary file beside it, renamed over it)
// with mode 0600, creating the directory with mode 0700. It refuses to put a token
// into a file that is already readable by others: the token would have been exposed.
func saveConfig(path string, c *config) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // write where the link points, keeping the link
	}
	if st, err := os.Stat(path); err == nil && c.holdsToken() {
		if err := checkPrivate(path, st); err != nil {
			return err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.json") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// checkPrivate fails when the file at path (st is its information), which holds a
// token, can be read or written by anyone but its owner. Mode bits mean nothing on
// Windows, whose ACLs decide.
func checkPrivate(path string, st fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s holds a Kentik API token but is open to group or others (mode %04o): run chmod 600 %s, and think about rotating the token", path, perm, path)
	}
	return nil
}

// readSmallFile reads a regular file of at most limit bytes, and returns its information.
func readSmallFile(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("%s is larger than %d KiB", path, limit>>10)
	}
	return data, st, nil
}

// readTokenFile reads an API token from a file private to its owner: the first line,
// without blanks around it.
func readTokenFile(path string) (string, error) {
	data, st, err := readSmallFile(path, maxTokenFile)
	if err != nil {
		return "", err
	}
	if err := checkPrivate(path, st); err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("%s holds no token (want the token on its first line)", path)
	}
	return tok, nil
}

// profilePath resolves a path written in a profile: ~/ is the home directory, and a
// relative path is relative to the config file's directory.
func profilePath(configPath, p string) (string, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", nil
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, strings.TrimPrefix(p[1:], "/")), nil
	case filepath.IsAbs(p):
		return p, nil
	}
	return filepath.Join(filepath.Dir(configPath), p), nil
}
