package faulttest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// item is one row of the reliability checklist (RELIABILITY.md §5, copied
// into the issue): where it is proven, or why it does not apply.
type item struct {
	id string
	// tests are "path/to/file_test.go:TestName" (from the repository root);
	// each must exist.
	tests []string
	// elsewhere names coverage that lives in another issue's package, moot
	// says why the item does not apply.
	elsewhere, moot string
}

// checklist maps every checklist item to its tests. Sizes: D1/D2 run the
// checklist's 10,000 deliveries and 3 kills by default; D4 5,000
// deliveries and 9 stepdowns; D5 3,000 deliveries and one hard leader
// loss; DTBRIDGE_SOAK=1 (`make soak`) runs larger versions of the same
// tests (see each test's doc comment).
var checklist = []item{
	// D — durability
	{id: "D1 kill -9 the bridge, embedded server", tests: []string{"pkg/faulttest/crash_test.go:TestKillBridgeEmbedded"}},
	{id: "D2 kill -9 the bridge, external server", tests: []string{"pkg/faulttest/crash_test.go:TestKillBridgeExternal"}},
	{id: "D3 broker hard-stopped during load", tests: []string{
		"pkg/faulttest/broker_test.go:TestBrokerHardStopUnderLoad",
		"pkg/bridge/bridge_test.go:TestBrokerOutage", // /readyz from the disconnect handler, malformed → 503
	}},
	{id: "D4 R3 forced stepdowns under load", tests: []string{"pkg/faulttest/cluster_test.go:TestStepdownUnderLoad"}},
	{id: "D5 R3 hard loss of the stream leader", tests: []string{"pkg/faulttest/cluster_test.go:TestLeaderKillUnderLoad"}},
	{id: "D6 graceful SIGTERM under load", tests: []string{
		"pkg/faulttest/shutdown_test.go:TestGracefulStopUnderLoad",
		"pkg/bridge/bridge_test.go:TestGracefulShutdownFinishesInFlight", // a request provably in flight
		"cmd/dtbridge/main_test.go:TestServeEmbeddedSeedDelivery",        // exit 0, restart on the same data.dir
	}},
	{id: "D7 payload bound", tests: []string{
		"pkg/bridge/embedded_test.go:TestEmbeddedServer",
		"pkg/cli/cli_test.go:TestServeRefusesSmallBrokerMaxPayload",
	}},
	{id: "D8 embedded durability setting", tests: []string{
		"pkg/bridge/embedded_test.go:TestEmbeddedServer",
		"pkg/bridge/embedded_test.go:TestEmbeddedSyncInterval",
		"pkg/embedded/embedded_test.go:TestSyncAlwaysFromRunningServer",
	}},
	{id: "D9 quarantine durable under the kill loop", tests: []string{
		"pkg/faulttest/crash_test.go:TestKillBridgeEmbedded", // one delivery in ten is malformed, wanted 400 + stored
		"pkg/bridge/bridge_test.go:TestErrorStatuses",
	}},
	// X — deduplication
	{id: "X1 same delivery twice", tests: []string{"pkg/bridge/bridge_test.go:TestRedelivery"}},
	{id: "X2 50 concurrent identical, R1 and R3", tests: []string{
		"pkg/bridge/bridge_test.go:TestConcurrentIdenticalDeliveries",
		"pkg/faulttest/cluster_test.go:TestConcurrentIdenticalR3",
	}},
	{id: "X3 redelivery after bridge and broker restart", tests: []string{
		"pkg/faulttest/broker_test.go:TestRedeliveryAcrossRestarts",
		"cmd/dtbridge/main_test.go:TestServeEmbeddedSeedDelivery",
	}},
	{id: "X4 redelivery after the window", tests: []string{"pkg/faulttest/broker_test.go:TestRedeliveryAfterWindow"}},
	{id: "X5 dedup-key determinism", tests: []string{
		"pkg/delivery/delivery_test.go:TestDedupKey",
		"pkg/delivery/delivery_test.go:TestConformance",
		"cmd/dtbridge/main_test.go:TestServeEmbeddedSeedDelivery", // same key in a second process
	}},
	{id: "X6 publish retry reuses the id", tests: []string{"pkg/publish/retry_test.go:TestRetryAfterLostAckReusesID"}},
	// H — HTTP ingress
	{id: "H1 body over the limit, RSS bounded", tests: []string{
		"pkg/bridge/hostile_test.go:TestOversizedBodiesBounded",
		"pkg/faulttest/memory_test.go:TestOversizedBodiesRSS",
		"pkg/bridge/bridge_test.go:TestChunkedOverLimit",
	}},
	{id: "H2 forms over the limit, many parts", tests: []string{"pkg/bridge/hostile_test.go:TestFormLimits"}},
	{id: "H3 content types", tests: []string{"pkg/bridge/hostile_test.go:TestContentTypes"}},
	{id: "H4 slow header client", tests: []string{"pkg/bridge/hostile_test.go:TestSlowHeaderClient"}},
	{id: "H5 error bodies and headers", tests: []string{
		"pkg/bridge/hostile_test.go:TestErrorBodiesAndHeaders",
		"pkg/bridge/hostile_test.go:TestBrokerDownErrorBody",
		"pkg/ingress/errors_test.go:TestErrorResponse",
	}},
	{id: "H6 every failure status over a socket", tests: []string{"pkg/bridge/bridge_test.go:TestErrorStatuses"}},
	{id: "H7 CloudEvents conformance", tests: []string{"pkg/bridge/bridge_test.go:TestSeedDelivery"}},
	// S — security
	{id: "S1 token sources, rotation, rejects, constant time", tests: []string{
		"pkg/bridge/bridge_test.go:TestAuthForms",
		"pkg/bridge/hostile_test.go:TestAuthRejects",
		"pkg/auth/auth_test.go:TestNoSecretEquality",
		"pkg/auth/auth_test.go:TestCheck",
	}},
	{id: "S2 secrets never leak", tests: []string{
		"pkg/bridge/hostile_test.go:TestSecretsNeverLeak",
		"pkg/faulttest/crash_test.go:TestKillBridgeEmbedded", // the process's own log
		"pkg/config/config_test.go:TestRedactedWriteYAML",
	}},
	{id: "S3 generated token", tests: []string{
		"cmd/dtbridge/main_test.go:TestServeEmbeddedSeedDelivery",
		"pkg/auth/auth_test.go:TestLoadOrCreateToken",
	}},
	{id: "S4 auth.disabled warns", tests: []string{"pkg/bridge/hostile_test.go:TestAuthDisabledWarns"}},
	{id: "S5 CIDR allow-list, X-Forwarded-For", tests: []string{
		"pkg/bridge/hostile_test.go:TestAllowListAndForwardedFor",
		"pkg/auth/auth_test.go:TestClientIP",
	}},
	{id: "S6 Standard Webhooks signatures", moot: "no HMAC source exists: DoubleTick signs nothing (CATALOG §3.3); add the vectors with the first signed source"},
	{id: "S7 replay --url SSRF", elsewhere: "pkg/replay (issue 4)"},
	{id: "S8 subject injection", tests: []string{
		"pkg/subject/subject_test.go:FuzzSubjectToken",
		"pkg/subject/subject_test.go:TestToken",
		"pkg/bridge/hostile_test.go:TestHostilePayloads",
	}},
	{id: "S9 fuzzing the parsers (make fuzz, in make test)", tests: []string{
		"pkg/payload/payload_test.go:FuzzRead",
		"pkg/doubletick/doubletick_test.go:FuzzConvert",
		"pkg/envelope/envelope_test.go:FuzzAppendString",
		"pkg/subject/subject_test.go:FuzzSubjectToken",
	}},
	// R — replay
	{id: "R1 replay by seq and time range", elsewhere: "pkg/replay (issue 4)"},
	{id: "R2 replay into the source stream refused", elsewhere: "pkg/replay (issue 4)"},
	{id: "R3 replay to URL with retries", elsewhere: "pkg/replay (issue 4)"},
	// C — config
	{id: "C1 unknown key, bad value → exit 2 naming the key", tests: []string{
		"pkg/config/config_test.go:TestLoadStructuralErrors",
		"pkg/config/config_test.go:TestValidate",
		"pkg/cli/cli_test.go:TestServeRefusesBadConfig",
	}},
	{id: "C2 env override of a key absent from the file", tests: []string{"pkg/config/config_test.go:TestEnvOverride"}},
	{id: "C3 printed config redacted", tests: []string{
		"pkg/config/config_test.go:TestRedactedWriteYAML",
		"pkg/config/config_test.go:TestValidateDoesNotLeakSecrets",
	}},
	// O — operability
	{id: "O1 /readyz", tests: []string{
		"pkg/bridge/bridge_test.go:TestBrokerOutage",
		"pkg/faulttest/broker_test.go:TestBrokerHardStopUnderLoad",
		"pkg/faulttest/broker_test.go:TestReadyzWithoutStream",
	}},
	{id: "O2 metrics equal the checker's counts", tests: []string{
		"pkg/faulttest/crash_test.go:TestKillBridgeEmbedded",
		"pkg/faulttest/crash_test.go:TestKillBridgeExternal",
		"pkg/bridge/bridge_test.go:TestOperationalEndpoints",
	}},
	{id: "O3 race detector on ingress, publish, replay", tests: []string{"Makefile:unit"}},
}

// TestChecklist keeps the table honest: every item is listed once, every
// named test exists where the table says, and every item without a test
// says why.
func TestChecklist(t *testing.T) {
	root := filepath.Join("..", "..")
	want := []string{"D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9", "X1", "X2", "X3", "X4", "X5", "X6",
		"H1", "H2", "H3", "H4", "H5", "H6", "H7", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9",
		"R1", "R2", "R3", "C1", "C2", "C3", "O1", "O2", "O3"}
	seen := map[string]bool{}
	for _, it := range checklist {
		id, _, _ := strings.Cut(it.id, " ")
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
		if len(it.tests) == 0 && it.moot == "" && it.elsewhere == "" {
			t.Errorf("%s: no test, and no reason", it.id)
		}
		for _, ref := range it.tests {
			file, name, _ := strings.Cut(ref, ":")
			src, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Errorf("%s: %v", it.id, err)
				continue
			}
			decl := "func " + name + "("
			if file == "Makefile" {
				decl = name + ":"
			}
			if !strings.Contains(string(src), decl) {
				t.Errorf("%s: %s has no %s", it.id, file, decl)
			}
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("checklist item %s is not in the table", id)
		}
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "go test -race") && !strings.Contains(string(mk), "$(GO) test -race") {
		t.Error("O3: the Makefile's test target no longer runs the race detector")
	}
}

// TestREADMEGuaranteesNameRealTests: every test the README's Guarantees
// section points at exists in the file named next to it (or, when the
// sentence names no file, somewhere in the repository).
func TestREADMEGuaranteesNameRealTests(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Guarantees\n")
	if !ok {
		t.Fatal("README has no Guarantees section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	refs := regexp.MustCompile("`(Test\\w+)`").FindAllStringSubmatchIndex(section, -1)
	if len(refs) < 10 {
		t.Fatalf("the Guarantees section names %d tests", len(refs))
	}
	var all strings.Builder
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			all.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fileRE := regexp.MustCompile("`((?:pkg|cmd)/[\\w/]+_test\\.go)`")
	for _, m := range refs {
		name := section[m[2]:m[3]]
		decl := "func " + name + "("
		// The file named after the test, before the next test name.
		rest := section[m[1]:]
		if next := regexp.MustCompile("`Test\\w+`").FindStringIndex(rest); next != nil {
			rest = rest[:next[0]]
		}
		if f := fileRE.FindStringSubmatch(rest); f != nil {
			src, err := os.ReadFile(filepath.Join(root, f[1]))
			if err != nil || !strings.Contains(string(src), decl) {
				t.Errorf("README names %s in %s, which has no such test", name, f[1])
			}
			continue
		}
		if !strings.Contains(all.String(), decl) {
			t.Errorf("README names %s, which no test file declares", name)
		}
	}
}
