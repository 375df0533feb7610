package bridgetest_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dtbridge/dtbridge/pkg/bridgetest"
)

// stored is a message as the bridge stores it: an envelope whose
// data.raw carries the key, with Nats-Msg-Id msgID and dedupkey dedup.
func stored(seq uint64, key, msgID, dedup string) bridgetest.StoredMsg {
	h := nats.Header{}
	h.Set(jetstream.MsgIDHeader, msgID)
	return bridgetest.StoredMsg{Seq: seq, Subject: "doubletick.x.y", Header: h,
		Data: fmt.Appendf(nil, `{"dedupkey":%q,"data":{"raw":{"dtCustomerId":%q}}}`, dedup, key)}
}

// TestCheckerClassifies: the checker is what the fault tests trust, so it
// is tested on a history with one case of each kind.
func TestCheckerClassifies(t *testing.T) {
	ck := bridgetest.NewChecker()
	for _, k := range []string{"ok", "lost", "unknown", "unknown-stored", "dup", "wrong-seq", "bad-id", "quarantined"} {
		want := 202
		if k == "quarantined" {
			want = 400
		}
		ck.Add(k, []byte(k), want)
	}
	ck.Record("ok", bridgetest.Attempt{Status: 0, Err: "connection reset"})
	ck.Record("ok", bridgetest.Attempt{Status: 202, Seq: 1})
	ck.Record("lost", bridgetest.Attempt{Status: 202, Seq: 9})
	ck.Record("unknown", bridgetest.Attempt{Status: 503})
	ck.Record("unknown-stored", bridgetest.Attempt{Status: 0})
	ck.Record("dup", bridgetest.Attempt{Status: 202, Seq: 3})
	ck.Record("wrong-seq", bridgetest.Attempt{Status: 202, Seq: 4})
	ck.Record("bad-id", bridgetest.Attempt{Status: 202, Seq: 6})
	ck.Record("quarantined", bridgetest.Attempt{Status: 400})
	if got := ck.Open(); !slices.Equal(got, []string{"unknown", "unknown-stored"}) {
		t.Errorf("Open() = %v", got)
	}
	msgs := []bridgetest.StoredMsg{
		stored(1, "ok", "id-ok", "id-ok"),
		stored(2, "unknown-stored", "id-us", "id-us"),
		stored(3, "dup", "id-dup", "id-dup"),
		stored(4, "dup", "id-dup2", "id-dup2"), // the same delivery stored twice
		stored(5, "wrong-seq", "id-ws", "id-ws"),
		stored(6, "bad-id", "id-x", "id-other"),
		stored(7, "stranger", "id-s", "id-s"),
		stored(8, "quarantined", "id-q", "id-q"),
	}
	r := ck.Classify(msgs, 8, bridgetest.BodyField("dtCustomerId"))
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"ok", r.OK, []string{"ok", "dup", "wrong-seq", "bad-id", "quarantined"}},
		{"lost", r.Lost, []string{"lost"}},
		{"unknown", r.Unknown, []string{"unknown", "unknown-stored"}},
		{"duplicated", r.Duplicated, []string{"dup"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if r.UnknownStored != 1 || !slices.Equal(r.Foreign, []uint64{7}) || !slices.Equal(r.BadMsgID, []uint64{6}) ||
		len(r.WrongSeq) != 2 || r.Stored != 8 || r.LastSeq != 8 {
		t.Errorf("result %+v", r)
	}
	if r.Err() == nil {
		t.Error("Err() = nil for a history with a lost delivery")
	}

	clean := bridgetest.NewChecker()
	clean.Add("a", nil, 202)
	clean.Record("a", bridgetest.Attempt{Status: 202, Seq: 1, Duplicate: false})
	if err := clean.Classify([]bridgetest.StoredMsg{stored(1, "a", "k", "k")}, 1, bridgetest.BodyField("dtCustomerId")).Err(); err != nil {
		t.Errorf("clean history: %v", err)
	}
}

// TestBodyFieldFindsQuarantinedKeys: a malformed body is stored base64 in
// data.bodyBase64; the key is found there too.
func TestBodyFieldFindsQuarantinedKeys(t *testing.T) {
	m := bridgetest.StoredMsg{Data: []byte(`{"dedupkey":"quarantine.malformed:abc","data":{"bodyBase64":"eyJkdEN1c3RvbWVySWQiOiJrLTAwMDAwOSIs"}}`)}
	key, dedup, ok := bridgetest.BodyField("dtCustomerId")(m)
	if !ok || key != "k-000009" || dedup != "quarantine.malformed:abc" {
		t.Fatalf("got %q %q %v", key, dedup, ok)
	}
}
