package cli

import (
	"context"
	"fmt"
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
			return runJob(cmd, r, args[0], "upgrade to "+version, func(ctx context.Context, c *client.Client) (*client.Job, error) {
				return c.Upgrade(ctx, args[0], version)
			})
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

// runJob starts a job, follows it, and fails unless it succeeded.
func runJob(cmd *cobra.Command, r *remote, name, what string, start func(context.Context, *client.Client) (*client.Job, error)) error {
	job, err := followJob(cmd, r, start)
	if err != nil {
		return err
	}
	if job.State != "succeeded" {
		return fmt.Errorf("%s of %s failed: %s", what, name, job.Error)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s of %s succeeded\n", what, name)
	return nil
}
