package format

import (
	"errors"
	"reflect"
	"testing"
)

func sample() Metadata {
	return Metadata{
		FormatVersion: Version, Method: "npe", Estimator: "nsf", Spec: []byte(`{"kind":"nsf"}`),
		ThetaDim: 2, XDim: 1, ThetaNames: []string{"a", "b"}, XNames: []string{"x"},
		Prior:    []byte(`{"type":"box_uniform","low":[0,0],"high":[1,1]}`),
		ZScore:   ZScore{ThetaMean: []float64{0, 1}, ThetaStd: []float64{1, 2}, XMean: []float64{3}, XStd: []float64{4}},
		Noise:    Noise{Normal: 2},
		Training: Training{Simulations: 10, Epochs: 3, Seed: 7},
	}
}

func lookupOf(kv [][2]string) func(string) (string, bool) {
	m := map[string]string{}
	for _, p := range kv {
		m[p[0]] = p[1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRoundTrip(t *testing.T) {
	if kv := roundTrip(t, sample()); len(kv) != len(Keys) {
		t.Fatalf("%d keys, want %d", len(kv), len(Keys))
	}
}

// roundTrip checks that md decodes unchanged from its own encoding, which
// it returns.
func roundTrip(t *testing.T, md Metadata) [][2]string {
	t.Helper()
	kv, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(lookupOf(kv))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, md) {
		t.Errorf("round trip:\n got %+v\nwant %+v", *got, md)
	}
	return kv
}

func TestDecodeRejects(t *testing.T) {
	md := sample()
	kv, _ := md.Encode()
	edit := func(key, val string) func(string) (string, bool) {
		l := lookupOf(kv)
		return func(k string) (string, bool) {
			if k == Prefix+key {
				if val == "" {
					return "", false
				}
				return val, true
			}
			return l(k)
		}
	}
	if _, err := Decode(edit("format_version", "2.0")); !errors.Is(err, ErrNewerVersion) {
		t.Errorf("newer major: %v", err)
	}
	for _, c := range []struct{ key, val string }{
		{"method", "abc"}, {"theta_dim", "two"}, {"theta_dim", "3"}, {"x_names", `["x","y"]`},
		{"zscore", `{"theta_mean":[0]}`}, {"noise", `{"normal":0}`}, {"format_version", "one"}, {"prior", "{"},
	} {
		if _, err := Decode(edit(c.key, c.val)); err == nil {
			t.Errorf("%s = %q accepted", c.key, c.val)
		}
	}
	if _, err := Decode(edit("format_version", "1.7")); err != nil {
		t.Errorf("newer minor version refused: %v", err)
	}
	// A format-1.0 file without the method key is NPE.
	if md, err := Decode(edit("method", "")); err != nil || md.Method != MethodNPE {
		t.Errorf("file without method: %v, %v", md, err)
	}
	if _, err := Decode(edit("loss", "{")); err == nil {
		t.Error("invalid loss JSON accepted")
	}
}

func TestRoundTripNRE(t *testing.T) {
	md := sample()
	md.Method, md.Estimator, md.Noise = MethodNRE, "resnet", Noise{}
	md.Loss = []byte(`{"kind":"nre-b","atoms":10}`)
	roundTrip(t, md)
	md.Noise = Noise{Normal: 1}
	if _, err := md.Encode(); err == nil {
		t.Error("NRE metadata with noise accepted")
	}
}
