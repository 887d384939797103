package format

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode decodes metadata read from a model file: a JSON object of
// keys (without Prefix) and values. The result is an error or metadata
// within the documented limits that encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	md := sample()
	kv, err := md.Encode()
	if err != nil {
		f.Fatal(err)
	}
	good := map[string]string{}
	for _, p := range kv {
		good[strings.TrimPrefix(p[0], Prefix)] = p[1]
	}
	add := func(edit func(m map[string]string)) {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		edit(m)
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	add(func(map[string]string) {})
	add(func(m map[string]string) { m["noise"] = `{"normal":1099511627776,"uniform":0}` })
	add(func(m map[string]string) { m["theta_dim"] = "99999999999999999999" })
	add(func(m map[string]string) { m["format_version"] = "2.0" })
	add(func(m map[string]string) { m["prior"] = "null" })
	add(func(m map[string]string) { delete(m, "zscore") })
	f.Fuzz(func(t *testing.T, data []byte) {
		var kv map[string]string
		if json.Unmarshal(data, &kv) != nil {
			return
		}
		lookup := func(k string) (string, bool) {
			v, ok := kv[strings.TrimPrefix(k, Prefix)]
			return v, ok
		}
		m, err := Decode(lookup)
		if err != nil {
			if m != nil {
				t.Fatal("metadata with an error")
			}
			return
		}
		if m.ThetaDim > MaxThetaDim || m.XDim > MaxXDim || m.Noise.Dim() > MaxNoiseDim || m.Noise.Dim() < 1 ||
			len(m.ThetaNames) != m.ThetaDim || len(m.ZScore.XStd) != m.XDim {
			t.Fatalf("accepted %+v", m)
		}
		enc, err := m.Encode()
		if err != nil {
			if errors.Is(err, ErrNewerVersion) {
				t.Fatal(err)
			}
			// Values JSON cannot hold (a NaN from the file cannot get
			// here: JSON has none) would fail; nothing else may.
			t.Fatalf("decoded metadata does not encode: %v", err)
		}
		again, err := Decode(lookupOf(enc))
		if err != nil {
			t.Fatalf("re-encoded metadata does not decode: %v", err)
		}
		// Raw JSON values come back compacted: compare the rest.
		m.Spec, again.Spec, m.Prior, again.Prior = nil, nil, nil, nil
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip\n%+v\n%+v", m, again)
		}
	})
}
