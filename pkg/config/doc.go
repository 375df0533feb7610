// Package config holds dtbridge's configuration: one struct with built-in
// defaults ([Default]), a loader that layers flags, environment and a YAML
// file on top of them ([Load]), a [Config.Validate] that names the bad key,
// and a [Config.Redacted] form that is safe to print.
//
// # Phases
//
// Defaults → load → validate. [Load] only decodes: it fails (with a
// *[ValidationError] naming each key) on unknown keys and on values that do
// not fit their field's type, but it does not check ranges or consistency;
// the caller runs [Config.Validate], which reports every bad key at once.
//
// # Sources
//
// Highest precedence first:
//
//   - flags registered by [BindFlags], named like the key (--http.addr,
//     --auth.tokens=a,b); only flags the user set count;
//   - environment variables [EnvVar](key): "DTBRIDGE_" + the upper-cased key
//     path with "." replaced by "_" (DTBRIDGE_NATS_URL,
//     DTBRIDGE_AUTH_ALLOW_CIDRS). A variable set to the empty string counts
//     as unset;
//   - the YAML file: --config / [LoadOptions.File], else [DefaultFile]
//     (configs/dtbridge.yaml relative to the working directory) when it
//     exists. A named file that is missing is an error; so are unknown keys.
//     Keys are matched case-insensitively; a null value means "not set";
//   - built-in defaults ([Default]), registered for every key so env and
//     flag overrides work even when the file omits the key.
//
// Lists (auth.*) are YAML sequences in the file and comma-separated strings
// in env and flags (entries trimmed, empty entries dropped). Durations are
// Go duration strings ("500ms", "2m", "720h"); a bare number other than 0 is
// rejected. Byte sizes are [ByteSize] strings ("1MiB", "10GB",
// "unlimited") or YAML integers.
//
// # Validation rules
//
// [Config.Validate] checks: http.addr and (with the embedded server)
// embedded.listen are host:port with a numeric port; http.public_url is
// empty or an absolute http(s) URL; every timeout and stream.max_age is
// > 0; embedded.sync is always|interval; nats.url entries are URLs with
// scheme nats, tls, ws or wss; nats.tls.cert and nats.tls.key come together;
// at most one of nats.creds, nats.nkey, nats.user, nats.token is set, and
// nats.password goes with nats.user; data.dir is non-empty; stream.name has
// no whitespace, '.', '*', '>', '/', '\'; stream.max_bytes is unlimited or
// > 0; stream.replicas is 1..5 and exactly 1 with the embedded server;
// 100ms ≤ stream.duplicate_window ≤ stream.max_age; subject.prefix matches
// ^[a-z0-9_-]+$; subject.template starts with {prefix}, contains {type},
// uses only {prefix} {channel} {type} {account} and yields non-empty,
// wildcard-free tokens; auth.tokens entries have ≥ 16 characters;
// auth.basic entries are user:password (split on the first ':') with both
// parts non-empty; auth.header is an HTTP token; auth.allow_cidrs and
// auth.trusted_proxies are CIDRs or bare IPs; 1KiB ≤ limits.max_body ≤
// 16MiB; limits.max_parts ≥ 1; limits.rate ≥ 0; limits.burst ≥ 0 and ≥ 1
// when limits.rate > 0; publish.attempt_timeout ≤ publish.timeout;
// 0 ≤ publish.batch_max ≤ 1000;
// log.level is debug|info|warn|error and log.format json|console;
// replay.webhook_secret is empty or whsec_ + base64 of 24 to 64 bytes.
// Error messages never contain secret values.
//
// # Secrets
//
// nats.password, nats.token, auth.tokens, the password part of
// auth.basic and replay.webhook_secret are secrets; [Config.Redacted]
// replaces them (and any user information in nats.url) with "REDACTED". Print only redacted configs,
// e.g. cfg.Redacted().WriteYAML(os.Stdout).
//
// It imports neither Echo nor NATS.
package config
