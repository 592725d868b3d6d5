package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/client"
	"github.com/stackhub/stackhub/internal/catalog"
)

func sourceCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "source", Short: "Manage the store sources: stores the server fetches and imports by URL"}
	r.flags(cmd)
	var in client.AddSource
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Register a store by the URL of its .tar.gz or .zip archive, or of a templates.json",
		Long: "Registers the store; the server fetches and imports it in the background (see `stackhub source list`), " +
			"and syncs it again on its schedule (serve --source-sync) or with `stackhub source sync`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			in.URL = args[0]
			src, err := r.client().AddSource(ctx, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "source %d added: %s (%s); its first sync is running\n", src.ID, src.Name, src.URL)
			return nil
		},
	}
	add.Flags().StringVar(&in.Format, "format", "", "the store's format ("+strings.Join(catalog.Formats(), ", ")+"); detected when empty")
	add.Flags().StringVar(&in.Name, "name", "", "a name to show; the URL's host and path when empty")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the store sources with their last sync, counts and error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			list, err := r.client().Sources(ctx)
			if err != nil {
				return err
			}
			for _, s := range list {
				printSource(cmd.OutOrStdout(), &s)
			}
			if len(list) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no sources")
			}
			return nil
		},
	}
	sync := &cobra.Command{
		Use:   "sync ID",
		Short: "Sync a store source now and print the result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := sourceID(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			src, err := r.client().SyncSource(ctx, id)
			if err != nil {
				return err
			}
			printSource(cmd.OutOrStdout(), src)
			for _, rf := range src.Refusals {
				fmt.Fprintf(cmd.OutOrStdout(), "  refused %s\n", rf)
			}
			if src.Error != "" {
				return fmt.Errorf("source %d failed to sync: %s", id, src.Error)
			}
			return nil
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a store source: its apps leave the catalog, except the versions installs use",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := sourceID(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			if err := r.client().RemoveSource(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "source %d removed\n", id)
			return nil
		},
	}
	cmd.AddCommand(add, list, sync, remove)
	return cmd
}

func sourceID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("source id %q: want the number `stackhub source list` shows", arg)
	}
	return id, nil
}

// printSource prints one line per source: id, name, URL, then its last sync.
func printSource(w io.Writer, s *client.Source) {
	last := "never synced"
	if s.SyncedAt != nil {
		last = "synced " + time.UnixMilli(*s.SyncedAt).UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%s: %d apps accepted, %d refused, %d versions added, %d removed", s.ID, s.Name,
		s.URL, last, s.AppsAccepted, s.AppsRefused, s.VersionsAdded, s.VersionsRemoved)
	if s.Error != "" {
		fmt.Fprintf(w, "; error: %s", s.Error)
	}
	fmt.Fprintln(w)
}
