package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/client"
)

func appCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "app", Short: "Install and manage apps on the server"}
	r.flags(cmd)
	cmd.AddCommand(installCmd(r), listCmd(r), statusCmd(r), logsCmd(r), uninstallCmd(r), upgradeCmd(r), rollbackCmd(r),
		backupsCmd(r), domainCmd(r))
	for _, action := range []string{"start", "stop", "restart"} {
		cmd.AddCommand(actionCmd(r, action))
	}
	return cmd
}

func installCmd(r *remote) *cobra.Command {
	var id, version, storeName string
	var sets []string
	var force bool
	var domain, node string
	cmd := &cobra.Command{
		Use:   "install APP",
		Short: "Install a catalog app and wait until it runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			settings := map[string]string{}
			for _, kv := range sets {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fmt.Errorf("--set %q: want KEY=VALUE", kv)
				}
				settings[k] = v
			}
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c := r.client()
			res, err := c.Install(ctx, client.InstallRequest{App: args[0], Name: id, Version: version, Store: storeName, Settings: settings, Force: force, Domain: domain, Node: node})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "installing %s %s as %s (job %d), web port %s\n", args[0], res.Instance.Version,
				res.Instance.Name, res.Job.ID, orDash(res.Instance.Port))
			job, err := follow(ctx, c, res.Job.ID, out)
			if err != nil {
				return err
			}
			if job.State != "succeeded" {
				return fmt.Errorf("install of %s failed: %s", res.Instance.Name, job.Error)
			}
			fmt.Fprintf(out, "%s is running: http://<this server>:%s\n", res.Instance.Name, orDash(res.Instance.Port))
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "instance name (default: the app key)")
	cmd.Flags().StringVar(&version, "version", "", "version, or store:version (default: the newest of the first store in the server's --store-order that has the app)")
	cmd.Flags().StringVar(&storeName, "store", "", "the store whose version to install: websoft9, casaos, ... (default: the server's --store-order)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "a template setting, KEY=VALUE (repeatable)")
	cmd.Flags().BoolVar(&force, "force", false, "install even if the server lacks the template's resources")
	cmd.Flags().StringVar(&domain, "domain", "", "a name to route to the app through the edge (public, https auto)")
	cmd.Flags().StringVar(&node, "node", "", "the node to run the app on, by hostname (see stackhub node list; with serve --engine swarm)")
	return cmd
}

// follow shows a job's progress: a bar on a terminal, one line per step otherwise.
func follow(ctx context.Context, c *client.Client, id int64, out io.Writer) (*client.Job, error) {
	stages := []string{"queued", "pulling", "creating", "starting", "waiting", "done"}
	var bar *progressbar.ProgressBar
	if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		bar = progressbar.NewOptions(len(stages)-1, progressbar.OptionSetWriter(out), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	}
	job, err := c.Follow(ctx, id, func(e client.JobEvent) {
		if bar == nil {
			fmt.Fprintf(out, "  %-10s %s\n", e.Stage, e.Message)
			return
		}
		for i, s := range stages {
			if s == e.Stage {
				_ = bar.Set(i)
			}
		}
		bar.Describe(fmt.Sprintf("%-9s %s", e.Stage, truncate(e.Message, 60)))
	})
	if bar != nil {
		_ = bar.Finish()
	}
	return job, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var statusWords = map[string]string{"0": "not started", "1": "running", "2": "failed"}

func listCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List installed apps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			ins, err := r.client().Instances(ctx)
			if err != nil {
				return err
			}
			sort.Slice(ins, func(i, j int) bool { return ins[i].Name < ins[j].Name })
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAPP\tVERSION\tSTATUS\tPORT\tDB PORT\tINFO")
			for _, in := range ins {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.App, in.Version, statusWords[in.Status],
					orDash(in.Port), orDash(in.DBPort), in.Info)
			}
			return tw.Flush()
		},
	}
}

func statusCmd(r *remote) *cobra.Command {
	var creds bool
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show one installed app",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			c := r.client()
			in, err := c.Instance(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "name:     %s\napp:      %s %s\nstatus:   %s (%s)\ninfo:     %s\nproject:  %s\n",
				in.Name, in.App, in.Version, statusWords[in.Status], in.Status, in.Info, in.Container)
			for _, p := range in.Ports {
				fmt.Fprintf(out, "port:     %d/%s (%s)\n", p.Port, p.Protocol, p.Variable)
			}
			if in.HostAccess {
				fmt.Fprintln(out, "note:     this app has host access (privileged, Docker socket or host paths)")
			}
			if creds {
				cr, err := c.Credentials(ctx, args[0])
				if err != nil {
					return err
				}
				keys := make([]string, 0, len(cr))
				for k := range cr {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(out, "%s=%s\n", k, cr[k])
				}
			}
			if in.Status == "2" {
				return errors.New(in.Name + " has failed: " + in.Info)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&creds, "credentials", false, "also reveal the generated credentials")
	return cmd
}

func logsCmd(r *remote) *cobra.Command {
	var tail int
	var followLogs bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print an app's logs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			return r.client().Logs(ctx, args[0], tail, followLogs, cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVarP(&tail, "tail", "n", 100, "lines from the end of each container's log")
	cmd.Flags().BoolVarP(&followLogs, "follow", "f", false, "keep printing new lines")
	return cmd
}

func actionCmd(r *remote, action string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " NAME",
		Short: strings.ToUpper(action[:1]) + action[1:] + " an installed app",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := followJob(cmd, r, func(ctx context.Context, c *client.Client) (*client.Job, error) {
				return c.Act(ctx, args[0], action)
			})
			if err != nil {
				return err
			}
			if job.State != "succeeded" {
				return fmt.Errorf("%s %s failed: %s", action, args[0], job.Error)
			}
			return nil
		},
	}
}

func uninstallCmd(r *remote) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "uninstall NAME",
		Short: "Uninstall an app (its data volumes and upgrade snapshots are kept unless --purge)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			if err := r.client().Uninstall(ctx, args[0], purge); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is uninstalled\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "also delete the app's volumes, files and upgrade snapshots")
	return cmd
}
