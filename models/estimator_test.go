package models_test

import (
	"testing"

	"github.com/amortize/amortize/models"
)

func TestNewRefusesAbsurdSizes(t *testing.T) {
	for _, kind := range models.Kinds() {
		s, err := models.DefaultSpec(kind, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		s.Hidden = 1_000_000_000_000
		if _, err := models.New(s); err == nil {
			t.Errorf("%s: hidden 1e12 accepted", kind)
		}
		s, _ = models.DefaultSpec(kind, 2, 2)
		if _, err := models.New(s); err != nil {
			t.Errorf("%s: default spec refused: %v", kind, err)
		}
	}
	if _, err := models.New(models.Spec{Kind: "nope", ThetaDim: 1, XDim: 1}); err == nil {
		t.Error("unknown kind accepted")
	}
}
