package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// envPrefix starts every environment variable Load reads.
const envPrefix = "POSTERN_"

// envVar is one settable key: its environment name, its TOML key and where
// it lives in Config.
type envVar struct {
	name  string // POSTERN_SMTP_MAX_MESSAGE_BYTES
	key   string // smtp.max_message_bytes
	index []int  // for reflect.Value.FieldByIndex
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// envVars lists every key of Config, found by reflection over the toml
// tags: a struct field is a section, unless it parses itself from text
// (Duration), in which case it is a key like any string or number.
func envVars() ([]envVar, error) {
	var vars []envVar
	seen := make(map[string]string)
	var walk func(t reflect.Type, keyPrefix string, index []int) error
	walk = func(t reflect.Type, keyPrefix string, index []int) error {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			key := keyPrefix + name
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshalerType) {
				if err := walk(f.Type, key+".", idx); err != nil {
					return err
				}
				continue
			}
			if !settable(f.Type) {
				return fmt.Errorf("config: key %s: type %s cannot be set from the environment", key, f.Type)
			}
			env := envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			if other, dup := seen[env]; dup {
				return fmt.Errorf("config: keys %s and %s both map to %s", other, key, env)
			}
			seen[env] = key
			vars = append(vars, envVar{name: env, key: key, index: idx})
		}
		return nil
	}
	if err := walk(reflect.TypeFor[Config](), "", nil); err != nil {
		return nil, err
	}
	return vars, nil
}

// settable reports whether setText can parse a value of type t.
func settable(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Slice && settable(t.Elem())
	}
	return false
}

// applyEnv sets cfg's keys from the POSTERN_* entries of env. Every
// unknown variable and every bad value is reported, all at once.
func applyEnv(cfg *Config, env []string) error {
	vars, err := envVars()
	if err != nil {
		return err
	}
	byName := make(map[string]envVar, len(vars))
	for _, v := range vars {
		byName[v.name] = v
	}
	root := reflect.ValueOf(cfg).Elem()
	var errs []error
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || len(name) < len(envPrefix) || !strings.EqualFold(name[:len(envPrefix)], envPrefix) {
			continue
		}
		if name == EnvConfigFile {
			continue
		}
		v, ok := byName[name]
		if !ok {
			hint := ""
			if u, ok := byName[strings.ToUpper(name)]; ok {
				hint = fmt.Sprintf(" (did you mean %s?)", u.name)
			}
			errs = append(errs, fmt.Errorf("config: environment variable %s: no such setting%s", name, hint))
			continue
		}
		if err := setText(root.FieldByIndex(v.index), val); err != nil {
			errs = append(errs, fmt.Errorf("config: environment variable %s (%s): %w", name, v.key, err))
		}
	}
	return errors.Join(errs...)
}

// setText parses s into f. Lists are comma-separated, each item trimmed;
// an empty (or all-blank) s is an empty list.
func setText(f reflect.Value, s string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(strings.TrimSpace(s)))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, f.Type().Bits())
		if err != nil {
			return numError(s, err)
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, f.Type().Bits())
		if err != nil {
			return numError(s, err)
		}
		f.SetUint(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(x)
	case reflect.Slice:
		var items []string
		if strings.TrimSpace(s) != "" {
			items = strings.Split(s, ",")
		}
		list := reflect.MakeSlice(f.Type(), len(items), len(items))
		for i, item := range items {
			item = strings.TrimSpace(item)
			if item == "" {
				return fmt.Errorf("item %d of the comma-separated list is empty", i+1)
			}
			if err := setText(list.Index(i), item); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		f.Set(list)
	default:
		return fmt.Errorf("type %s cannot be set from the environment", f.Type())
	}
	return nil
}

func numError(s string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is out of range", s)
	}
	return fmt.Errorf("%q is not a whole number", s)
}
