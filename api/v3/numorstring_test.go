package v3

import (
	"encoding/json"
	"testing"
)

func TestPortForms(t *testing.T) {
	cases := []struct {
		in       string
		min, max uint16
		name     string
		wantErr  bool
	}{
		{in: `80`, min: 80, max: 80},
		{in: `"80"`, min: 80, max: 80},
		{in: `"80:90"`, min: 80, max: 90},
		{in: `"http"`, name: "http"},
		{in: `"90:80"`, wantErr: true},
		{in: `70000`, wantErr: true},
		{in: `0`, wantErr: true},
		{in: `"1:70000"`, wantErr: true},
	}
	for _, tc := range cases {
		var p Port
		if err := json.Unmarshal([]byte(tc.in), &p); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		min, max, name, err := p.Range()
		if (err != nil) != tc.wantErr || min != tc.min || max != tc.max || name != tc.name {
			t.Errorf("%s: Range() = %d %d %q %v; want %d %d %q err=%v", tc.in, min, max, name, err, tc.min, tc.max, tc.name, tc.wantErr)
		}
		out, _ := json.Marshal(p)
		if string(out) != tc.in {
			t.Errorf("%s re-encoded as %s", tc.in, out)
		}
	}
	if got := PortFromRange(5, 5).String(); got != "5" {
		t.Errorf("PortFromRange(5,5) = %s", got)
	}
	if got, _ := json.Marshal(PortFromRange(5, 9)); string(got) != `"5:9"` {
		t.Errorf("PortFromRange(5,9) = %s", got)
	}
}

func TestProtocolNumber(t *testing.T) {
	cases := map[string]uint8{`"TCP"`: 6, `"UDP"`: 17, `"ICMP"`: 1, `"ICMPv6"`: 58, `"SCTP"`: 132, `"UDPLite"`: 136, `6`: 6, `255`: 255}
	for in, want := range cases {
		var p Protocol
		if err := json.Unmarshal([]byte(in), &p); err != nil {
			t.Fatal(err)
		}
		if got, err := p.Number(); err != nil || got != want {
			t.Errorf("%s: Number() = %d, %v; want %d", in, got, err, want)
		}
		if out, _ := json.Marshal(p); string(out) != in {
			t.Errorf("%s re-encoded as %s", in, out)
		}
	}
	for _, bad := range []string{`"tcp"`, `"TCPP"`, `0`, `256`} {
		var p Protocol
		_ = json.Unmarshal([]byte(bad), &p)
		if _, err := p.Number(); err == nil {
			t.Errorf("%s: Number() accepted", bad)
		}
	}
	if ProtocolFromName("ICMP").SupportsPorts() || !ProtocolFromNumber(17).SupportsPorts() {
		t.Error("SupportsPorts wrong for ICMP or 17")
	}
}

func TestASNumberValue(t *testing.T) {
	cases := map[string]uint32{`64512`: 64512, `"64512"`: 64512, `"1.10"`: 65546, `4294967295`: 4294967295, `0`: 0}
	for in, want := range cases {
		var a ASNumber
		if err := json.Unmarshal([]byte(in), &a); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Value(); err != nil || got != want {
			t.Errorf("%s: Value() = %d, %v; want %d", in, got, err, want)
		}
		if out, _ := json.Marshal(a); string(out) != in {
			t.Errorf("%s re-encoded as %s", in, out)
		}
	}
	for _, bad := range []string{`-1`, `4294967296`, `"1.70000"`, `"x"`} {
		var a ASNumber
		_ = json.Unmarshal([]byte(bad), &a)
		if _, err := a.Value(); err == nil {
			t.Errorf("%s: Value() accepted", bad)
		}
	}
}

func TestDurationParse(t *testing.T) {
	if d, err := Duration("1m30s").Parse(); err != nil || d.Seconds() != 90 {
		t.Errorf("1m30s = %v, %v", d, err)
	}
	if _, err := Duration("10 seconds").Parse(); err == nil {
		t.Error("accepted 10 seconds")
	}
}
