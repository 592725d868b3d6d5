package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/client"
)

// remote holds how a CLI command finds the server: flags, else STACKHUB_URL and STACKHUB_TOKEN (an API token,
// shk_…, or the admin token), else DOGETOK.
type remote struct {
	url, token string
	timeout    time.Duration
}

func (r *remote) flags(cmd *cobra.Command) {
	url := os.Getenv("STACKHUB_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	cmd.PersistentFlags().StringVar(&r.url, "url", url, "the StackHub server (env STACKHUB_URL)")
	token := os.Getenv("STACKHUB_TOKEN")
	if token == "" {
		token = os.Getenv("DOGETOK")
	}
	cmd.PersistentFlags().StringVar(&r.token, "token", token, "an API token or the admin token (env STACKHUB_TOKEN, else DOGETOK)")
	cmd.PersistentFlags().DurationVar(&r.timeout, "timeout", 30*time.Minute, "give up after this long")
}

func (r *remote) client() *client.Client { return client.New(r.url, r.token) }

func (r *remote) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), r.timeout)
}
