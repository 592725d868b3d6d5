package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func userCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "user", Short: "Users' roles and lost second factors (admin)"}
	r.flags(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "role NAME ROLE",
		Short: "Set a user's role: member, operator or admin (their sessions end)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			if err := r.client().SetRole(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", args[0], args[1])
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "reset-2fa NAME",
		Short: "Remove a user's second factors (TOTP, recovery codes, passkeys) when they lost them; their sessions end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			if err := r.client().ResetSecondFactors(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s has no second factor now; they sign in with their password\n", args[0])
			return nil
		},
	})
	return cmd
}

func tokenCmd() *cobra.Command {
	r := &remote{}
	cmd := &cobra.Command{Use: "token", Short: "API tokens for scripts (STACKHUB_TOKEN)"}
	r.flags(cmd)
	var scopes []string
	var expires string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token; it is printed this once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			t, err := r.client().CreateToken(ctx, args[0], scopes, expires)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", t.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s (%s), scopes %s; keep it now: it is not shown again\n", t.ID,
				t.Name, strings.Join(t.Scopes, " "))
			return nil
		},
	}
	create.Flags().StringSliceVar(&scopes, "scope", nil, "a scope: hub:read, hub:write, host:read, host:write, admin (repeat or comma-separate)")
	create.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 30d or 720h (default: until revoked)")
	cmd.AddCommand(create, &cobra.Command{
		Use:   "list",
		Short: "List your API tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			ts, err := r.client().Tokens(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSCOPES\tEXPIRES\tLAST USED")
			for _, t := range ts {
				exp, used := "never", "never"
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.Format("2006-01-02 15:04")
				}
				if t.LastUsed != nil {
					used = t.LastUsed.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","), exp, used)
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := r.ctx(cmd)
			defer cancel()
			if err := r.client().RevokeToken(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	})
	return cmd
}
