package drain

import (
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	s := time.Second
	ok := Plan{PreStop: 0, Delay: 8 * s, Grace: 20 * s, Kill: 30 * s, ReadinessPeriod: 3 * s, ReadinessFailures: 2}
	if errs := ok.Check(); len(errs) != 0 {
		t.Fatalf("a fitting plan fails: %v", errs)
	}
	for name, p := range map[string]Plan{
		"grace reaches the kill":  {Delay: 5 * s, Grace: 30 * s, Kill: 30 * s},
		"preStop pushes it over":  {PreStop: 11 * s, Delay: 5 * s, Grace: 20 * s, Kill: 30 * s},
		"delay above half":        {Delay: 11 * s, Grace: 20 * s, Kill: 30 * s},
		"probe slower than delay": {Delay: 5 * s, Grace: 20 * s, Kill: 30 * s, ReadinessPeriod: 5 * s, ReadinessFailures: 2},
		"default threshold of 3":  {Delay: 8 * s, Grace: 20 * s, Kill: 30 * s, ReadinessPeriod: 3 * s},
		"no delay":                {Grace: 20 * s, Kill: 30 * s},
	} {
		if errs := p.Check(); len(errs) == 0 {
			t.Errorf("%s: %+v passes", name, p)
		}
	}
}

func TestEnv(t *testing.T) {
	d, g, err := Env(map[string]string{"DISTILBERT_SHUTDOWN_DELAY": "8s", "DISTILBERT_SHUTDOWN_GRACE": "20s"})
	if err != nil || d != 8*time.Second || g != 20*time.Second {
		t.Fatalf("%v %v %v", d, g, err)
	}
	if _, _, err := Env(map[string]string{"DISTILBERT_SHUTDOWN_GRACE": "20s"}); err == nil {
		t.Error("a missing delay passes")
	}
	if _, _, err := Env(map[string]string{"DISTILBERT_SHUTDOWN_DELAY": "8", "DISTILBERT_SHUTDOWN_GRACE": "20s"}); err == nil {
		t.Error("a delay without a unit passes")
	}
}
