//go:build !unix

package cli

import (
	"log/slog"

	"github.com/amortize/amortize/serve"
)

// reloadOnHangup does nothing where there is no SIGHUP; Server.Reload
// remains.
func reloadOnHangup(*serve.Server, *slog.Logger) (stop func()) { return func() {} }
