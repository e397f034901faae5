package deploy

import (
	"testing"

	"github.com/distilbert-go/distilbert/deploy/internal/live"
)

// TestMain removes the distilbert binary the tests built.
func TestMain(m *testing.M) { live.Main(m) }
