package store

import (
	"context"
	"fmt"
)

// Instance states.
const (
	StateInstalling   = "installing"
	StateInstalled    = "installed"
	StateFailed       = "failed"
	StateUninstalling = "uninstalling"
)

// Instance is one installed copy of a catalog app. Secrets is JSON of generated credentials: only the credentials
// endpoint reads it.
type Instance struct {
	Name       string
	Project    string
	App        int64
	AppKey     string
	Reversion  int64
	Version    string
	State      string
	Stopped    bool
	Cause      string
	Services   string // comma-separated service names the project runs
	Settings   string // JSON of the user's settings
	Secrets    string
	Rendered   string // JSON of the project's file paths → SHA-256 (hex) of what StackHub last rendered into them
	HostAccess bool
	PublishIP  string // where its ports are published: "" every interface, "127.0.0.1" loopback only
	// Node is the cluster node the install named ("" for any node); ReserveMilliCPUs and ReserveMemory (bytes) are
	// its template's requirements, reserved on a cluster engine (0: none).
	Node             string
	ReserveMilliCPUs int64
	ReserveMemory    int64
	CreatedAt        int64
	UpdatedAt        int64
}

// PortBooking is one host port held for an instance.
type PortBooking struct {
	Port     int
	Protocol string
	Instance string
	Variable string
}

const instanceCols = `name, project, app, app_key, reversion, version, state, stopped, cause, services, settings, secrets,
	rendered, host_access, publish_ip, node, reserve_millicpus, reserve_memory, created_at, updated_at`

func scanInstance(row interface{ Scan(...any) error }) (*Instance, error) {
	var i Instance
	err := row.Scan(&i.Name, &i.Project, &i.App, &i.AppKey, &i.Reversion, &i.Version, &i.State, &i.Stopped, &i.Cause,
		&i.Services, &i.Settings, &i.Secrets, &i.Rendered, &i.HostAccess, &i.PublishIP, &i.Node, &i.ReserveMilliCPUs,
		&i.ReserveMemory, &i.CreatedAt, &i.UpdatedAt)
	if err != nil {
		return nil, mapErr(err)
	}
	return &i, nil
}

// CreateInstance inserts i; a taken name or project is ErrConflict.
func (q *Q) CreateInstance(ctx context.Context, i *Instance) error {
	_, err := q.exec(ctx, `INSERT INTO instances (`+instanceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		i.Name, i.Project, i.App, i.AppKey, i.Reversion, i.Version, i.State, i.Stopped, i.Cause, i.Services,
		i.Settings, i.Secrets, i.Rendered, i.HostAccess, i.PublishIP, i.Node, i.ReserveMilliCPUs, i.ReserveMemory,
		i.CreatedAt, i.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert instance %s: %w", i.Name, err)
	}
	return nil
}

// Instance loads one instance.
func (q *Q) Instance(ctx context.Context, name string) (*Instance, error) {
	i, err := scanInstance(q.db.QueryRowContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	return i, nil
}

// Instances lists every instance by name.
func (q *Q) Instances(ctx context.Context) ([]Instance, error) {
	return queryRows(ctx, q.db, scanInstance, `SELECT `+instanceCols+` FROM instances ORDER BY name`)
}

// SetInstanceState records an instance's state and cause.
func (q *Q) SetInstanceState(ctx context.Context, name, state, cause string, ms int64) error {
	return q.execOne(ctx, `UPDATE instances SET state = $2, cause = $3, updated_at = $4 WHERE name = $1`,
		name, state, cause, ms)
}

// SetInstanceServices records the services an instance's project runs.
func (q *Q) SetInstanceServices(ctx context.Context, name, services string) error {
	return q.execOne(ctx, `UPDATE instances SET services = $2 WHERE name = $1`, name, services)
}

// SetInstanceRendered records what StackHub rendered into an instance's project directory (see Instance.Rendered).
func (q *Q) SetInstanceRendered(ctx context.Context, name, rendered string) error {
	return q.execOne(ctx, `UPDATE instances SET rendered = $2 WHERE name = $1`, name, rendered)
}

// SetInstanceSecrets replaces the instance's generated secrets (JSON), when an upgrade generates one its new
// version adds.
func (q *Q) SetInstanceSecrets(ctx context.Context, name, secrets string) error {
	return q.execOne(ctx, `UPDATE instances SET secrets = $2 WHERE name = $1`, name, secrets)
}

// SetInstanceStopped records whether the operator stopped the instance.
func (q *Q) SetInstanceStopped(ctx context.Context, name string, stopped bool, ms int64) error {
	return q.execOne(ctx, `UPDATE instances SET stopped = $2, updated_at = $3 WHERE name = $1`, name, stopped, ms)
}

// DeleteInstance removes an instance with its port bookings, jobs and job events.
func (q *Q) DeleteInstance(ctx context.Context, name string) error {
	if _, err := q.exec(ctx, `DELETE FROM jobs WHERE instance = $1`, name); err != nil {
		return fmt.Errorf("delete jobs of %s: %w", name, err)
	}
	return q.execOne(ctx, `DELETE FROM instances WHERE name = $1`, name)
}

// BookPort holds a host port for an instance; a port already held is ErrConflict.
func (q *Q) BookPort(ctx context.Context, b PortBooking) error {
	_, err := q.exec(ctx, `INSERT INTO port_bookings (port, protocol, instance, variable) VALUES ($1, $2, $3, $4)`,
		b.Port, b.Protocol, b.Instance, b.Variable)
	return err
}

// PortBookings lists the bookings of one instance, or of all when instance is "".
func (q *Q) PortBookings(ctx context.Context, instance string) ([]PortBooking, error) {
	where, args := "", []any{}
	if instance != "" {
		where, args = ` WHERE instance = $1`, []any{instance}
	}
	return queryRows(ctx, q.db, scanPortBooking, `SELECT port, protocol, instance, variable FROM port_bookings`+where+
		` ORDER BY port, protocol`, args...)
}

func scanPortBooking(row rowScanner) (*PortBooking, error) {
	var b PortBooking
	if err := row.Scan(&b.Port, &b.Protocol, &b.Instance, &b.Variable); err != nil {
		return nil, err
	}
	return &b, nil
}

// ReleasePorts frees every port of an instance.
// ReleasePort removes one booking of an instance.
func (q *Q) ReleasePort(ctx context.Context, b PortBooking) error {
	_, err := q.exec(ctx, `DELETE FROM port_bookings WHERE instance = $1 AND port = $2 AND protocol = $3`,
		b.Instance, b.Port, b.Protocol)
	return err
}

func (q *Q) ReleasePorts(ctx context.Context, instance string) error {
	_, err := q.exec(ctx, `DELETE FROM port_bookings WHERE instance = $1`, instance)
	return err
}
