//go:build unix

package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/amortize/amortize/serve"
)

// reloadOnHangup reloads s's models on each SIGHUP (whose default action
// would end the process) until stop is called.
func reloadOnHangup(s *serve.Server, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading the models")
				if err := s.Reload(); err != nil {
					log.Error("reload", "error", err)
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}
