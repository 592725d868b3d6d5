package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackhub/stackhub/client"
)

// followJob starts a job and prints its log until it ends, both within --timeout, and returns the job as it ended.
func followJob(cmd *cobra.Command, r *remote, start func(context.Context, *client.Client) (*client.Job, error)) (*client.Job, error) {
	ctx, cancel := r.ctx(cmd)
	defer cancel()
	c := r.client()
	job, err := start(ctx, c)
	if err != nil {
		return nil, err
	}
	return follow(ctx, c, job.ID, cmd.OutOrStdout())
}

func upgradeCmd(r *remote) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "upgrade NAME --version V",
		Short: "Upgrade an app: snapshot, new version, health check, automatic rollback on failure",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version == "" {
				return fmt.Errorf("--version is required")
			}
			job, err := followJob(cmd, r, func(ctx context.Context, c *client.Client) (*client.Job, error) {
				return c.Upgrade(ctx, args[0], version)
			})
			if err != nil {
				return err
			}
			if err := printKept(cmd, r, args[0], job.ID); err != nil {
				return err
			}
			return jobResult(cmd, job, args[0], "upgrade to "+version)
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "the version to upgrade to")
	return cmd
}

func rollbackCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback NAME",
		Short: "Return an app to the version before its last upgrade, with that upgrade's snapshot",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJob(cmd, r, args[0], "rollback", func(ctx context.Context, c *client.Client) (*client.Job, error) {
				return c.Rollback(ctx, args[0])
			})
		},
	}
}

func backupsCmd(r *remote) *cobra.Command {
	return &cobra.Command{
		Use:   "backups NAME",
		Short: "List an app's snapshots",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			bs, err := r.client().Backups(ctx, args[0])
			if err != nil {
				return err
			}
			for _, b := range bs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %-12s %8d bytes  %s\n",
					time.UnixMilli(b.CreatedAt).UTC().Format(time.RFC3339), b.Version, b.Size, b.Path)
			}
			return nil
		},
	}
}

// printKept sums up, from the job's upgrade record, the files a successful upgrade kept as the admin had edited
// them and the StackHub-owned files whose local edits it replaced: the job's log says so too, but a terminal's
// progress bar shows only its last line.
func printKept(cmd *cobra.Command, r *remote, name string, jobID int64) error {
	ctx, cancel := r.ctx(cmd)
	defer cancel()
	recs, err := r.client().Upgrades(ctx, name)
	if err != nil {
		return err
	}
	for _, u := range recs {
		if u.Job != jobID || u.Result != "succeeded" { // a rolled-back upgrade left the files as they were
			continue
		}
		out := cmd.OutOrStdout()
		if len(u.Kept) > 0 {
			fmt.Fprintf(out, "kept as edited here (the new version's copies are beside them as <file>.new): %s\n",
				strings.Join(u.Kept, ", "))
		}
		if len(u.Replaced) > 0 {
			fmt.Fprintf(out, "replaced the local edits to %s; the snapshot %s holds the edited copies\n",
				strings.Join(u.Replaced, ", "), u.Snapshot)
		}
	}
	return nil
}

// runJob starts a job, follows it, and fails unless it succeeded.
func runJob(cmd *cobra.Command, r *remote, name, what string, start func(context.Context, *client.Client) (*client.Job, error)) error {
	job, err := followJob(cmd, r, start)
	if err != nil {
		return err
	}
	return jobResult(cmd, job, name, what)
}

// jobResult reports a finished job: an error unless it succeeded.
func jobResult(cmd *cobra.Command, job *client.Job, name, what string) error {
	if job.State != "succeeded" {
		return fmt.Errorf("%s of %s failed: %s", what, name, job.Error)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s of %s succeeded\n", what, name)
	return nil
}
