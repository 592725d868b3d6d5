// Package cli holds the stackhub subcommands, one file each.
package cli

import (
	"github.com/spf13/cobra"
)

// Version is the program version, set at build time with -ldflags "-X .../cli.Version=...".
var Version = "0.1.0-dev"

// Root returns the stackhub command tree.
func Root() *cobra.Command {
	root := &cobra.Command{
		Use:           "stackhub",
		Short:         "A self-hosted app store with a community inside it",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.AddCommand(serveCmd(), appCmd(), serverCmd(), nodeCmd(), catalogCmd(), sourceCmd(), certCmd(), userCmd(), tokenCmd())
	return root
}
