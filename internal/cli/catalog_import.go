package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/internal/catalog"
)

func catalogCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "catalog", Short: "Manage the app catalog"}
	r.flags(cmd)
	var unreleased bool
	var format string
	imp := &cobra.Command{
		Use:   "import DIR",
		Short: "Import an app store (a Websoft9 docker-library, or another store's layout) into the catalog",
		Long: "Reads every app of the store in DIR (its format detected from the layout, or named with --format) " +
			"and sends it to the server. Prints one line per app: accepted (with the versions added) or refused " +
			"(with the reason). Importing twice changes nothing.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ts, refused, err := catalog.ReadStore(args[0], format, catalog.ReadOptions{IncludeUnreleased: unreleased})
			if err != nil {
				return err
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c := r.client()
			out := cmd.OutOrStdout()
			failed := len(refused)
			for _, t := range ts {
				res, err := c.ImportTemplate(ctx, t)
				switch {
				case err != nil:
					failed++
					fmt.Fprintf(out, "refused  %s: %s\n", t.Key, err)
				case res.Created:
					fmt.Fprintf(out, "accepted %s: new app %d with versions %s\n", t.Key, res.App, strings.Join(res.Added, ", "))
				case len(res.Added) > 0:
					fmt.Fprintf(out, "accepted %s: added versions %s to app %d\n", t.Key, strings.Join(res.Added, ", "), res.App)
				default:
					fmt.Fprintf(out, "accepted %s: unchanged (app %d)\n", t.Key, res.App)
				}
				if err == nil {
					for _, n := range t.Notes {
						fmt.Fprintf(out, "  note %s: %s\n", t.Key, n)
					}
					if res.Renamed != "" {
						fmt.Fprintf(out, "  note %s: %s\n", t.Key, res.Renamed)
					}
					if res.Joined {
						fmt.Fprintf(out, "  note %s: joins app %d (%s), which another store brought first\n", t.Key, res.App, res.Key)
					}
					for _, w := range res.Warnings {
						fmt.Fprintf(out, "  warning %s: %s\n", t.Key, w)
					}
				}
			}
			for _, rf := range refused {
				fmt.Fprintf(out, "refused  %s: %s\n", rf.Key, rf.Reason)
			}
			fmt.Fprintf(out, "%d accepted, %d refused\n", len(ts)+len(refused)-failed, failed)
			return nil
		},
	}
	imp.Flags().BoolVar(&unreleased, "unreleased", false, "also import templates marked release: false")
	imp.Flags().StringVar(&format, "format", "", "the store's format ("+strings.Join(catalog.Formats(), ", ")+"); detected when empty")
	check := &cobra.Command{
		Use:   "check [APP...]",
		Short: "Render and load every installable version as an install would, starting nothing",
		Long: "Renders every installable version of the given apps (all catalog apps when none) with stand-in ports " +
			"and generated secrets, and loads it as Compose, exactly as an install would; nothing is started. Prints " +
			"`ok <app> <version>` or `fail <app> <version>: <reason>` per version, and exits non-zero when any fails.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			res, err := r.client().CheckCatalog(ctx, args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			failed := 0
			for _, c := range res {
				if c.OK {
					fmt.Fprintf(out, "ok %s %s\n", c.App, c.Version)
					continue
				}
				failed++
				fmt.Fprintf(out, "fail %s %s: %s\n", c.App, c.Version, c.Error)
			}
			fmt.Fprintf(out, "%d ok, %d failed\n", len(res)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d of %d versions failed the check", failed, len(res))
			}
			return nil
		},
	}
	cmd.AddCommand(imp, check)
	return cmd
}
