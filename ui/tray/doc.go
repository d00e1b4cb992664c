// Package tray decides what Writeback Agent's notification-area icon shows for the person
// signed in at this PC: the icon, the tooltip, the menu items (with whether each is enabled
// and what choosing it does) and when to raise a desktop notification. It is plain Go with
// no toolkit: it compiles and is tested with CGO_ENABLED=0, and cmd/wbagent-tray is the
// thin getlantern/systray shell that puts a View on screen and carries out Actions.
//
// The pieces:
//
//   - Snapshot folds the service's watch stream (apitype.Event) into what the tray knows;
//   - Build maps a Snapshot and the user's Prefs to a View (icon, tooltip, Items);
//   - Notifier decides which notifications to raise as Snapshots follow one another;
//   - Follow keeps the watch stream open, reconnecting with back-off when the service goes
//     away, and never polls;
//   - Prefs are kept per user in the user's configuration folder.
//
// Nothing here ever carries patient data: the watch stream has none, and notifications hold
// counts and condition titles only.
package tray
