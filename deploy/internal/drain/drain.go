// Package drain holds the shutdown arithmetic every deploy manifest must
// satisfy, so that the Kubernetes base, the KServe runtime and the compose
// file are checked by the same rule.
package drain

import (
	"fmt"
	"time"
)

// Plan is one deployment's shutdown settings.
type Plan struct {
	// PreStop is the kubelet's preStop sleep before SIGTERM (0: none).
	PreStop time.Duration
	// Delay and Grace are DISTILBERT_SHUTDOWN_DELAY and
	// DISTILBERT_SHUTDOWN_GRACE: /readyz answers 503 while still serving
	// for Delay, then the listener closes; Grace bounds the whole drain
	// from SIGTERM, Delay included.
	Delay, Grace time.Duration
	// Kill is when the runtime sends SIGKILL, counted from the start of
	// termination (preStop included): terminationGracePeriodSeconds or
	// compose's stop_grace_period.
	Kill time.Duration
	// ReadinessPeriod times ReadinessFailures is how long the readiness
	// probe takes to see the 503 at worst (0: no probe, as in compose).
	ReadinessPeriod   time.Duration
	ReadinessFailures int32
}

// Check returns what is wrong with p, nothing when the drain fits.
func (p Plan) Check() []error {
	var errs []error
	if p.Grace <= 0 || p.Delay <= 0 {
		errs = append(errs, fmt.Errorf("shutdown delay %v and grace %v must both be set above 0", p.Delay, p.Grace))
	}
	// The server clamps the delay to half the grace without saying so in
	// the manifest: a larger value would be a silent lie.
	if p.Delay > p.Grace/2 {
		errs = append(errs, fmt.Errorf("shutdown delay %v above half the grace %v: the server clamps it to %v", p.Delay, p.Grace, p.Grace/2))
	}
	if p.PreStop+p.Grace >= p.Kill {
		errs = append(errs, fmt.Errorf("preStop %v + shutdown grace %v = %v, not below the kill deadline %v", p.PreStop, p.Grace, p.PreStop+p.Grace, p.Kill))
	}
	if p.ReadinessPeriod > 0 {
		if p.ReadinessFailures < 1 {
			p.ReadinessFailures = 3 // Kubernetes' default failureThreshold
		}
		if seen := p.ReadinessPeriod * time.Duration(p.ReadinessFailures); seen > p.Delay {
			errs = append(errs, fmt.Errorf("readiness probe needs up to %v (%v x %d) to see the 503, longer than the shutdown delay %v: the listener closes while the endpoint is still routed",
				seen, p.ReadinessPeriod, p.ReadinessFailures, p.Delay))
		}
	}
	return errs
}

// Env reads the delay and grace from DISTILBERT_SHUTDOWN_DELAY and
// DISTILBERT_SHUTDOWN_GRACE in env; both must be set, so that what the
// manifest says is what the server does (not a default that may change).
func Env(env map[string]string) (delay, grace time.Duration, err error) {
	for name, d := range map[string]*time.Duration{"DISTILBERT_SHUTDOWN_DELAY": &delay, "DISTILBERT_SHUTDOWN_GRACE": &grace} {
		v, ok := env[name]
		if !ok {
			return 0, 0, fmt.Errorf("%s is not set", name)
		}
		if *d, err = time.ParseDuration(v); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
	}
	return delay, grace, nil
}
