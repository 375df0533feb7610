package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the generated token file inside the data dir.
const TokenFile = "auth.token"

// tokenBytes is the entropy of a generated token: 32 bytes, 43 characters in
// unpadded base64url.
const tokenBytes = 32

// maxTokenFile bounds how much of an existing token file is read.
const maxTokenFile = 4096

// LoadOrCreateToken returns the token kept in "<dir>/auth.token".
//
// If the file exists it is read and trimmed; created is false. It is refused
// (error, no change) when it is not a regular file, grants any permission to
// group or other, or is empty. Otherwise dir is created (0700) if needed and
// a new token of 32 bytes from crypto/rand, base64.RawURLEncoding, is written
// with mode 0600 via a temp file and rename; created is true. Two processes
// creating the token at the same moment may each see a different token; the
// last rename wins, so run this once at startup.
func LoadOrCreateToken(dir string) (token string, created bool, err error) {
	path := filepath.Join(dir, TokenFile)
	token, err = readToken(path)
	if err == nil {
		return token, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	token, err = newToken()
	if err != nil {
		return "", false, err
	}
	if err := writeFileAtomic(dir, path, []byte(token+"\n")); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("auth: token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("auth: token file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("auth: token file %s has mode %04o, accessible by group or other; run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return "", fmt.Errorf("auth: token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) == 0 {
		return "", fmt.Errorf("auth: token file %s is empty", path)
	}
	return token, nil
}

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: generating token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func writeFileAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("auth: creating token dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+TokenFile+".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: writing token file: %w", err)
	}
	return nil
}
