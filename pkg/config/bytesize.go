package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a count of bytes. The value -1 ([Unlimited]) means "no limit".
//
// It parses (see [ParseByteSize]) plain integers ("1048576"), binary units
// ("512KiB", "1MiB", "2GiB", "1TiB"), decimal units ("10KB", "10MB", "1GB",
// "1TB"), "B" suffixed bytes ("100B") and "unlimited". Units are
// case-insensitive and may be separated from the number by spaces.
//
// It prints (see [ByteSize.String]) in the largest binary unit that divides it
// exactly ("1MiB", "1536KiB"), as a plain integer otherwise ("10000000"), and
// as "unlimited" for -1. Printing then parsing gives back the same value.
type ByteSize int64

// Unlimited is the ByteSize meaning "no limit" (prints as "unlimited").
const Unlimited ByteSize = -1

// Binary and decimal ByteSize units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40

	KB ByteSize = 1000
	MB ByteSize = 1000 * KB
	GB ByteSize = 1000 * MB
	TB ByteSize = 1000 * GB
)

// unitFor returns the multiplier for a (lower-cased) unit suffix.
func unitFor(u string) (ByteSize, bool) {
	switch u {
	case "", "b":
		return 1, true
	case "kib":
		return KiB, true
	case "mib":
		return MiB, true
	case "gib":
		return GiB, true
	case "tib":
		return TiB, true
	case "kb":
		return KB, true
	case "mb":
		return MB, true
	case "gb":
		return GB, true
	case "tb":
		return TB, true
	}
	return 0, false
}

// ParseByteSize parses s as described on [ByteSize]. The number must be an
// integer (optionally signed); "1.5MiB" is rejected rather than rounded. It
// fails on an empty string, an unknown unit, or a value that overflows int64.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid byte size %q: empty", s)
	}
	if strings.EqualFold(t, "unlimited") {
		return Unlimited, nil
	}
	i := 0
	if t[0] == '+' || t[0] == '-' {
		i = 1
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ",") {
		return 0, fmt.Errorf("invalid byte size %q: the number must be a whole number (use a smaller unit, e.g. 1536KiB)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid byte size %q: want an integer with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB) or \"unlimited\"", s)
	}
	mult, ok := unitFor(unit)
	if !ok {
		return 0, fmt.Errorf("invalid byte size %q: unknown unit %q (want KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s, t[i:])
	}
	if n > math.MaxInt64/int64(mult) || n < math.MinInt64/int64(mult) {
		return 0, fmt.Errorf("invalid byte size %q: overflows int64", s)
	}
	return ByteSize(n) * mult, nil
}

// String formats b as described on [ByteSize].
func (b ByteSize) String() string {
	if b == Unlimited {
		return "unlimited"
	}
	if b != 0 {
		for _, u := range []struct {
			size ByteSize
			name string
		}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
			if b%u.size == 0 {
				return strconv.FormatInt(int64(b/u.size), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements [encoding.TextMarshaler] using [ByteSize.String].
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] using [ParseByteSize].
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}
