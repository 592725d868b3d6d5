package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/client"
)

func domainCmd(r *remote) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Route domains to an installed app through the edge"}
	cmd.AddCommand(domainAddCmd(r), domainListCmd(r), domainRemoveCmd(r))
	return cmd
}

func domainAddCmd(r *remote) *cobra.Command {
	var in client.RouteInput
	var users []string
	var noRedirect bool
	cmd := &cobra.Command{
		Use:   "add NAME DOMAIN",
		Short: "Route DOMAIN (and --path) to the app NAME; its W9_URL follows",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Domain = args[1]
			for _, u := range users {
				name, pass, ok := strings.Cut(u, ":")
				if !ok {
					return fmt.Errorf("--basic-user %q: want USER:PASSWORD", u)
				}
				in.BasicUsers = append(in.BasicUsers, client.BasicUser{User: name, Password: pass})
			}
			if noRedirect {
				f := false
				in.Redirect = &f
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c := r.client()
			ch, err := c.AddDomain(ctx, args[0], in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s routes to %s (access %s, https %s)\n", ch.Route.URL, args[0], ch.Route.Access, ch.Route.HTTPS)
			return waitChange(ctx, c, ch, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Path, "path", "", "path prefix (default /)")
	f.BoolVar(&in.StripPath, "strip-path", false, "remove the path prefix before the app sees the request")
	f.StringVar(&in.Access, "access", "", "public, users, admin or basic (default public)")
	f.StringArrayVar(&in.Allow, "allow", nil, "a CIDR that may reach the route (repeatable)")
	f.StringVar(&in.HTTPS, "https", "", "auto, internal, custom or off (default auto)")
	f.StringVar(&in.Service, "service", "", "the service to route to (with --port; default the app's web port)")
	f.IntVar(&in.Port, "port", 0, "the service's container port")
	f.StringArrayVar(&users, "basic-user", nil, "USER:PASSWORD for --access basic (repeatable)")
	f.BoolVar(&noRedirect, "no-redirect", false, "serve plain HTTP too instead of redirecting to HTTPS")
	return cmd
}

// waitChange follows the job that renders the app again, if one started.
func waitChange(ctx context.Context, c *client.Client, ch *client.RouteChange, out io.Writer) error {
	if ch.Note != "" {
		fmt.Fprintln(out, ch.Note)
	}
	if ch.Job == nil {
		return nil
	}
	job, err := follow(ctx, c, ch.Job.ID, out)
	if err != nil {
		return err
	}
	if job.State != "succeeded" {
		return fmt.Errorf("rendering %s again failed: %s", ch.Job.Instance, job.Error)
	}
	return nil
}

func domainListCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list NAME",
		Short: "List the app's routes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			rs, err := r.client().Domains(ctx, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tPATH\tACCESS\tHTTPS\tALLOW\tURL")
			for _, rt := range rs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rt.Domain, rt.Path, rt.Access, rt.HTTPS,
					orDash(strings.Join(rt.Allow, ",")), rt.URL)
			}
			return tw.Flush()
		},
	}
}

func domainRemoveCmd(r *remote) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "remove NAME DOMAIN",
		Short: "Remove the app's route of DOMAIN (and --path)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c := r.client()
			ch, err := c.RemoveDomain(ctx, args[0], args[1], path)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s%s from %s\n", args[1], path, args[0])
			return waitChange(ctx, c, ch, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&path, "path", "", "the route's path prefix (default /)")
	return cmd
}
