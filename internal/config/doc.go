// Package config is Postern's typed configuration: the built-in defaults,
// the TOML file, the POSTERN_* environment overrides, and Validate.
//
// A value comes from, in rising order of precedence:
//
//  1. Default(): the embedded default, on which `postern serve` runs with no
//     file at all (data in ./postern-data, every listener on 127.0.0.1 at an
//     unprivileged port);
//  2. the TOML file given to Load, decoded over the defaults; a key the file
//     sets replaces the default, a list replaces the whole default list, and a
//     key that Config does not know is an error;
//  3. the environment: every key is also POSTERN_<SECTION>_<KEY> upper-cased
//     (POSTERN_HOSTNAME, POSTERN_SMTP_MAX_MESSAGE_BYTES, POSTERN_STORE_DSN).
//     The names are derived from the toml struct tags by reflection, so a new
//     key needs no environment code. Lists are comma-separated, durations are
//     Go durations ("30s", "5m"). An unknown POSTERN_* variable is an error,
//     so a typo is never silently ignored; POSTERN_CONFIG, which names the
//     file, is left to the command line.
//
// Load does not validate: Validate does, and reports every problem at once,
// each named by its key as written in the file (smtp.submission[1]). The
// host name follows the host-name syntax of RFC 1123 §2.1 and RFC 1035
// §2.3.4, and must be fully qualified ("localhost" excepted), since it is
// the EHLO name of RFC 5321 §4.1.1.1. Internationalized names are written in
// their A-label (xn--) form.
//
// postern.example.toml at the root of the repository documents every key;
// the tests hold it equal to Default().
package config
