package subject

import "testing"

func TestOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"doubletick.>", "doubletick.doubletick.>", true},
		{"doubletick.>", "replay.doubletick.>", false},
		{"doubletick.>", "doubletick", false},
		{"doubletick.*", "doubletick.x", true},
		{"doubletick.*", "doubletick.x.y", false},
		{"*.instagram.>", "replay.doubletick.>", false},
		{"*.doubletick.>", "replay.doubletick.>", true},
		{"*.instagram.>", "replay.doubletick.instagram.x", false},
		{"a.b.c", "a.b.c", true},
		{"a.b.c", "a.b.d", false},
		{"a.*.c", "a.b.*", true},
		{">", "anything.at.all", true},
		{"a.b", "a.b.>", false},
		{"a..b", "a.x.b", false},
		{"a.>.b", "a.x.b", false},
		{"deadletter.>", "doubletick.>", false},
	}
	for _, tt := range tests {
		if got := Overlap(tt.a, tt.b); got != tt.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Overlap(tt.b, tt.a); got != tt.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
