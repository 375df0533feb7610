package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// DefaultFile is the config file [Load] reads, relative to the working
// directory, when no file is named and it exists.
const DefaultFile = "configs/dtbridge.yaml"

// EnvPrefix prefixes every environment variable (see [EnvVar]).
const EnvPrefix = "DTBRIDGE"

// ConfigFlag is the name of the flag that names the config file.
const ConfigFlag = "config"

// LoadOptions says where [Load] looks.
type LoadOptions struct {
	// File is the YAML file to read. "" means the value of --config in
	// Flags if set, else [DefaultFile] if it exists, else no file. A file
	// that is named (here or by --config) but missing is an error.
	File string
	// Flags, if non-nil, is a flag set prepared with [BindFlags] and already
	// parsed. Only flags the user set override lower sources; flags whose
	// names are not keys are ignored.
	Flags *pflag.FlagSet
}

// Load builds the configuration from, lowest to highest precedence: built-in
// defaults ([Default]), the YAML file, DTBRIDGE_* environment variables (see
// [EnvVar]; an empty variable counts as unset) and set flags.
//
// Lists are YAML sequences in the file and comma-separated strings in the
// environment and flags (entries trimmed, empty entries dropped). Durations
// are strings such as "2m" (a bare number other than 0 is rejected). Byte
// sizes are as in [ParseByteSize] or YAML integers. In the result, empty lists
// are nil and a trailing "/" is stripped from http.public_url.
//
// Errors: a named file that does not exist (wraps [fs.ErrNotExist]), an
// unreadable file or invalid YAML are plain errors naming the file. Unknown
// keys, sections that are not mappings and values that cannot be decoded
// into their field's type are reported together as a *[ValidationError]
// naming each key. Load does not call [Config.Validate]; callers do.
func Load(opts LoadOptions) (Config, error) {
	keys := leaves()
	v := viper.New()
	for _, l := range keys {
		v.SetDefault(l.key, defaultValue(l))
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	var verr ValidationError
	file, explicit := opts.File, opts.File != ""
	if file == "" {
		file = ConfigFileFlag(opts.Flags)
		explicit = file != ""
	}
	if file == "" {
		file = DefaultFile
	}
	raw, err := os.ReadFile(file)
	switch {
	case err == nil:
		m, ferrs, err := parseFile(raw, keys)
		if err != nil {
			return Config{}, fmt.Errorf("config: parse %s: %w", file, err)
		}
		verr.Errors = append(verr.Errors, ferrs...)
		if err := v.MergeConfigMap(m); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", file, err)
		}
	case !explicit && errors.Is(err, fs.ErrNotExist):
		// No default file: defaults, env and flags only.
	default:
		return Config{}, fmt.Errorf("config: read config file: %w", err)
	}

	if opts.Flags != nil {
		known := make(map[string]bool, len(keys))
		for _, l := range keys {
			known[l.key] = true
		}
		opts.Flags.Visit(func(f *pflag.Flag) {
			if known[f.Name] {
				v.Set(f.Name, f.Value.String())
			}
		})
	}

	// Decode key by key first so every undecodable value is reported with
	// its key; then decode the whole struct strictly.
	for _, l := range keys {
		target := reflect.New(l.field.Type)
		dc := &mapstructure.DecoderConfig{
			WeaklyTypedInput: true,
			DecodeHook:       decodeHook(),
			Result:           target.Interface(),
		}
		d, err := mapstructure.NewDecoder(dc)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := d.Decode(v.Get(l.key)); err != nil {
			verr.add(l.key, "invalid value: "+decodeMsg(err))
		}
	}
	if len(verr.Errors) > 0 {
		return Config{}, verr.sorted()
	}

	var c Config
	if err := v.UnmarshalExact(&c, viper.DecodeHook(decodeHook())); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	normalize(&c)
	return c, nil
}

// normalize applies the canonical forms documented on Load.
func normalize(c *Config) {
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
	for _, l := range []*[]string{&c.Auth.Tokens, &c.Auth.Basic, &c.Auth.AllowCIDRs, &c.Auth.TrustedProxies} {
		if len(*l) == 0 {
			*l = nil
		}
	}
}

// defaultValue is the viper default for a key: the Default() value, with
// lists as empty (not nil) slices so viper knows the key.
func defaultValue(l leaf) any {
	d := Default()
	fv := reflect.ValueOf(d).FieldByIndex(l.index)
	if fv.Kind() == reflect.Slice && fv.IsNil() {
		return []string{}
	}
	return fv.Interface()
}

// parseFile checks the YAML document against the known keys and returns it
// as a nested map for viper, without null values. Structural problems are
// returned as field errors; err is only for YAML syntax.
func parseFile(raw []byte, keys []leaf) (map[string]any, []FieldError, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, err
	}
	leafSet := make(map[string]bool, len(keys))
	sectionSet := map[string]bool{}
	for _, l := range keys {
		leafSet[l.key] = true
		parts := strings.Split(l.key, ".")
		for i := 1; i < len(parts); i++ {
			sectionSet[strings.Join(parts[:i], ".")] = true
		}
	}
	var errs []FieldError
	var walk func(node any, prefix string) map[string]any
	walk = func(node any, prefix string) map[string]any {
		where := prefix
		if where == "" {
			where = "(document)"
		}
		m, ok := asMap(node)
		if !ok {
			errs = append(errs, FieldError{Key: where, Msg: "must be a mapping"})
			return nil
		}
		out := map[string]any{}
		for k, val := range m {
			key := strings.ToLower(k)
			if prefix != "" {
				key = prefix + "." + key
			}
			switch {
			case val == nil:
				// Null: same as absent.
			case leafSet[key]:
				if _, isMap := asMap(val); isMap {
					errs = append(errs, FieldError{Key: key, Msg: "must be a single value or list, not a mapping"})
					continue
				}
				out[strings.ToLower(k)] = val
			case sectionSet[key]:
				if sub := walk(val, key); len(sub) > 0 {
					out[strings.ToLower(k)] = sub
				}
			default:
				errs = append(errs, FieldError{Key: key, Msg: "unknown key"})
			}
		}
		return out
	}
	if doc == nil {
		return map[string]any{}, nil, nil
	}
	return walk(doc, ""), errs, nil
}

func asMap(node any) (map[string]any, bool) {
	switch m := node.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

// decodeMsg strips mapstructure's "'name'" wrappers from a decode error.
func decodeMsg(err error) string {
	for {
		var de *mapstructure.DecodeError
		if !errors.As(err, &de) || de.Unwrap() == nil {
			return err.Error()
		}
		err = de.Unwrap()
	}
}

// decodeHook converts raw values (YAML scalars, env and flag strings) into
// durations, byte sizes and string lists.
func decodeHook() mapstructure.DecodeHookFunc {
	durationT := reflect.TypeFor[time.Duration]()
	byteSizeT := reflect.TypeFor[ByteSize]()
	stringsT := reflect.TypeFor[[]string]()
	return func(from, to reflect.Type, data any) (any, error) {
		if from == to {
			return data, nil
		}
		switch to {
		case durationT:
			return toDuration(data)
		case byteSizeT:
			return toByteSize(data)
		case stringsT:
			if s, ok := data.(string); ok {
				return splitList(s), nil
			}
		}
		return data, nil
	}
}

func toDuration(data any) (any, error) {
	rv := reflect.ValueOf(data)
	switch rv.Kind() {
	case reflect.String:
		s := strings.TrimSpace(rv.String())
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (want e.g. 500ms, 30s, 2m, 720h)", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if rv.IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("duration %v has no unit (write e.g. \"%vs\")", data, data)
	}
	return data, nil
}

func toByteSize(data any) (any, error) {
	rv := reflect.ValueOf(data)
	switch rv.Kind() {
	case reflect.String:
		return ParseByteSize(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ByteSize(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return nil, fmt.Errorf("byte size %v overflows int64", data)
		}
		return ByteSize(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || f >= math.MaxInt64 || f < math.MinInt64 {
			return nil, fmt.Errorf("byte size %v is not a whole number of bytes", data)
		}
		return ByteSize(f), nil
	}
	return data, nil
}

// splitList splits a comma-separated list, trimming entries and dropping
// empty ones.
func splitList(s string) []string {
	out := []string{}
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// BindFlags registers on fs the string flag --config and one string flag per
// key, named exactly like the key (--http.addr, --auth.tokens, ...). List
// flags take comma-separated values; boolean flags may be given without a
// value (--auth.disabled means true). Defaults shown in help are those of
// [Default]. Like pflag, it panics if a flag of the same name already
// exists on fs.
func BindFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", "path to the YAML config file (default "+DefaultFile+" when present)")
	d := reflect.ValueOf(Default())
	for _, l := range leaves() {
		fv := d.FieldByIndex(l.index)
		usage := l.field.Tag.Get("usage") + " [env " + EnvVar(l.key) + "]"
		fs.String(l.key, flagDefault(fv), usage)
		if fv.Kind() == reflect.Bool {
			fs.Lookup(l.key).NoOptDefVal = "true"
		}
	}
}

func flagDefault(fv reflect.Value) string {
	switch x := fv.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		return x.String()
	case ByteSize:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(fv.Interface())
}

// ConfigFileFlag returns the value of --config on fs, or "" when fs is nil
// or has no such flag.
func ConfigFileFlag(fs *pflag.FlagSet) string {
	if fs == nil {
		return ""
	}
	f := fs.Lookup(ConfigFlag)
	if f == nil {
		return ""
	}
	return f.Value.String()
}
