package hub

import (
	"context"

	"github.com/stackhub/stackhub/internal/apperr"
	"github.com/stackhub/stackhub/internal/auth"
	"github.com/stackhub/stackhub/internal/events"
	"github.com/stackhub/stackhub/internal/store"
)

// Notifications lists the caller's own notifications, newest first; all includes read ones.
func (s *Service) Notifications(ctx context.Context, a auth.Actor, uid int64, all bool, p Page) ([]Notification, error) {
	if err := requireSignedIn(a); err != nil {
		return nil, err
	}
	if a.UID != uid {
		return nil, apperr.New(apperr.Forbidden, "Only user %d may read these notifications", uid)
	}
	ns, err := s.store.Q().Notifications(ctx, uid, all, p)
	return ns, wrap(err, "notifications")
}

// Mention notifies uid that the caller mentioned them in comment cid; only the comment's author may, once per
// comment and user.
func (s *Service) Mention(ctx context.Context, a auth.Actor, uid, cid int64) (*Notification, error) {
	if err := requireUser(a); err != nil {
		return nil, err
	}
	var n *Notification
	err := s.tx(ctx, func(t *txn) error {
		c, err := t.Comment(ctx, cid)
		if err != nil {
			return notFound(err, "comment", cid)
		}
		if c.Author != a.UID {
			return apperr.New(apperr.Forbidden, "Only the author of comment %d may mention people in it", cid)
		}
		if err := requireUserExists(ctx, t.Q, uid); err != nil {
			return err
		}
		if uid == a.UID {
			return apperr.Field(apperr.Invalid, "uid", "You cannot mention yourself")
		}
		done, err := t.HasNotification(ctx, uid, store.NoteMention, cid)
		if err != nil {
			return err
		}
		if done {
			return apperr.New(apperr.Conflict, "User %d was already notified of comment %d", uid, cid)
		}
		n = &Notification{User: uid, CreatedAt: s.ms(), Type: store.NoteMention, Data: cid}
		if err := t.AddNotification(ctx, n); err != nil {
			return err
		}
		t.emit(events.NotificationSent, a.UID, uid, *n)
		return nil
	})
	return n, err
}

// ToggleNotificationRead flips the read mark of one of the caller's notifications.
func (s *Service) ToggleNotificationRead(ctx context.Context, a auth.Actor, uid, createdAt int64) (bool, error) {
	if err := requireSelf(a, uid); err != nil {
		return false, err
	}
	read, err := s.store.Q().ToggleNotificationRead(ctx, uid, createdAt)
	return read, notFound(err, "notification", createdAt)
}

// DeleteNotification removes one of the caller's notifications.
func (s *Service) DeleteNotification(ctx context.Context, a auth.Actor, uid, createdAt int64) error {
	if err := requireSelf(a, uid); err != nil {
		return err
	}
	return notFound(s.store.Q().DeleteNotification(ctx, uid, createdAt), "notification", createdAt)
}
