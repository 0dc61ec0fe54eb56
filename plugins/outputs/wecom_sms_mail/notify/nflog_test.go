package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

var (
	logT0    = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	logDests = map[string]alert.Level{"wecom": alert.LevelWarning, "email": alert.LevelWarning, "sms": alert.LevelCritical}
)

func sec(s int) time.Time { return logT0.Add(time.Duration(s) * time.Second) }

func firingAlert(key string, level alert.Level) alert.Alert {
	return alert.Alert{Key: key, Level: level, NotifiedLevel: level, StartedAt: logT0}
}

// reminderDests lists the destinations reminded at now, and queues them as
// the dispatcher would.
func reminderDests(l Log, alerts []alert.Alert, at time.Time) []string {
	var out []string
	for _, a := range alerts {
		for _, dest := range []string{"wecom", "email", "sms"} {
			if l.entry(a.Key, dest) == nil || a.Level < logDests[dest] {
				continue // only destinations that heard of it: the first message is the dispatcher's
			}
			if n, ok := l.due(a, dest, 30*time.Second, at); ok {
				l.queued(n, n.Dest)
				out = append(out, n.Dest)
			}
		}
	}
	return out
}

func TestDeliveryLogRemindersCountFromEachDelivery(t *testing.T) {
	l := Log{}
	a := firingAlert("k", alert.LevelWarning)
	fire := alert.Notification{Kind: alert.KindFiring, Alert: a, At: sec(0)}
	ref := []JobRef{refOf(fire)}
	l.queued(fire, "wecom")
	l.queued(fire, "email")

	require.Empty(t, l.settled("email", ref, true, sec(0)))
	require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(19)), "wecom has not heard of it yet; email is not due")
	require.Empty(t, l.settled("wecom", ref, true, sec(20)), "the robot was down for 20 s")

	require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(29)))
	require.Equal(t, []string{"email"}, reminderDests(l, []alert.Alert{a}, sec(30)), "email counts from its Delivery at 0")
	require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(31)), "the email reminder is in flight")
	rep := alert.Notification{Kind: alert.KindRepeat, Alert: a, At: sec(30)}
	require.Empty(t, l.settled("email", []JobRef{refOf(rep)}, true, sec(31)))
	require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(49)), "wecom counts from its Delivery at 20")
	require.Equal(t, []string{"wecom"}, reminderDests(l, []alert.Alert{a}, sec(50)))
	require.Equal(t, []string{"email"}, reminderDests(l, []alert.Alert{a}, sec(61)))
}

func TestDeliveryLogRemindersFollowTheLevel(t *testing.T) {
	l := Log{}
	crit := firingAlert("k", alert.LevelCritical)
	fire := alert.Notification{Kind: alert.KindFiring, Alert: crit, At: sec(0)}
	for _, d := range []string{"wecom", "sms"} {
		l.queued(fire, d)
		l.settled(d, []JobRef{refOf(fire)}, true, sec(0))
	}
	require.ElementsMatch(t, []string{"wecom", "sms"}, reminderDests(l, []alert.Alert{crit}, sec(30)))
	warn := crit
	warn.Level = alert.LevelWarning
	for _, d := range []string{"wecom", "sms"} {
		l.settled(d, []JobRef{refOf(alert.Notification{Kind: alert.KindRepeat, Alert: crit})}, true, sec(30))
	}
	require.Equal(t, []string{"wecom"}, reminderDests(l, []alert.Alert{warn}, sec(60)), "a warning is no SMS, reminder or not")
}

func TestDeliveryLogResolution(t *testing.T) {
	a := firingAlert("k", alert.LevelWarning)
	fire := alert.Notification{Kind: alert.KindFiring, Alert: a, At: sec(0)}
	ref := []JobRef{refOf(fire)}
	resolved := alert.Notification{Kind: alert.KindResolved, Alert: a, At: sec(40)}

	t.Run("to exactly the destinations delivered", func(t *testing.T) {
		l := Log{}
		l.queued(fire, "wecom")
		l.queued(fire, "email")
		l.settled("email", ref, true, sec(1))
		l.settled("wecom", ref, false, sec(5)) // given up
		require.Equal(t, []string{"email"}, l.resolve(resolved))
		require.False(t, l.heard("k"), "the log forgets a resolved alert")
	})
	t.Run("waits for a message in flight, then goes", func(t *testing.T) {
		l := Log{}
		l.queued(fire, "wecom")
		require.Empty(t, l.resolve(resolved))
		require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(100)), "no reminder for a resolved alert")
		due := l.settled("wecom", ref, true, sec(50))
		require.Len(t, due, 1)
		require.Equal(t, alert.KindResolved, due[0].Kind)
		require.Equal(t, "wecom", due[0].Dest)
		require.False(t, l.heard("k"))
	})
	t.Run("dropped when the message in flight is given up", func(t *testing.T) {
		l := Log{}
		l.queued(fire, "wecom")
		require.Empty(t, l.resolve(resolved))
		require.Empty(t, l.settled("wecom", ref, false, sec(50)))
		require.False(t, l.heard("k"))
	})
	t.Run("a new firing cancels a waiting resolution", func(t *testing.T) {
		l := Log{}
		l.queued(fire, "wecom")
		l.resolve(resolved)
		again := alert.Notification{Kind: alert.KindFiring, Alert: a, At: sec(45)}
		again.Alert.StartedAt = sec(45)
		l.queued(again, "wecom")
		require.Empty(t, l.settled("wecom", ref, true, sec(50)), "an answer about the old episode changes nothing")
		require.Empty(t, l.settled("wecom", []JobRef{refOf(again)}, true, sec(51)))
		require.Equal(t, sec(51), l["k"]["wecom"].Delivered)
	})
}

func TestDeliveryLogGiveUpRetriesAfterRepeat(t *testing.T) {
	l := Log{}
	a := firingAlert("k", alert.LevelWarning)
	fire := alert.Notification{Kind: alert.KindFiring, Alert: a, At: sec(0)}
	l.queued(fire, "wecom")
	l.settled("wecom", []JobRef{refOf(fire)}, false, sec(10))
	require.Empty(t, reminderDests(l, []alert.Alert{a}, sec(39)))
	require.Equal(t, []string{"wecom"}, reminderDests(l, []alert.Alert{a}, sec(40)), "the destination hears of it eventually")
}

func TestDeliveryLogRecountAfterRestart(t *testing.T) {
	l := Log{}
	a := firingAlert("k", alert.LevelWarning)
	fire := alert.Notification{Kind: alert.KindFiring, Alert: a, At: sec(0)}
	l.queued(fire, "wecom")
	l.queued(fire, "email")
	l.settled("email", []JobRef{refOf(fire)}, true, sec(0))

	restored := l.clone()
	restored.recount(map[string][]*Job{"wecom": {{Refs: []JobRef{refOf(fire)}}}}, nil)
	require.Equal(t, []string{"email"}, reminderDests(restored, []alert.Alert{a}, sec(30)), "wecom's first message is still queued")

	restored = l.clone()
	restored.recount(nil, []alert.Notification{{Kind: alert.KindRepeat, Alert: a, Dest: "email"}})
	require.Empty(t, reminderDests(restored, []alert.Alert{a}, sec(30)), "email's reminder waits in the group window")
}

func TestDeliveryLogFirstMessageToADestinationThatNeverHeard(t *testing.T) {
	l := Log{}
	a := firingAlert("k", alert.LevelWarning)
	n, ok := l.due(a, "wecom", 30*time.Second, sec(100))
	require.True(t, ok, "a silence hid the firing: the destination gets it when due")
	require.Equal(t, alert.KindFiring, n.Kind)
	require.Equal(t, "wecom", n.Dest)
	_, ok = l.due(a, "wecom", 30*time.Second, sec(101))
	require.False(t, ok, "not twice before it is queued")
	l.queued(n, "wecom")
	_, ok = l.due(a, "wecom", 30*time.Second, sec(200))
	require.False(t, ok, "no reminder while the first message is in flight")
}

func TestDeliveryLogUnreserve(t *testing.T) {
	l := Log{}
	a := firingAlert("k", alert.LevelWarning)
	n, ok := l.due(a, "wecom", 30*time.Second, sec(0))
	require.True(t, ok)
	l.unreserve(n, "wecom") // a silence began in the group window
	n, ok = l.due(a, "wecom", 30*time.Second, sec(1))
	require.True(t, ok, "due again once the silence ends")
	require.Equal(t, alert.KindFiring, n.Kind)

	// A reminder dropped the same way is due again too.
	l.queued(n, "wecom")
	l.settled("wecom", []JobRef{refOf(n)}, true, sec(2))
	rep, ok := l.due(a, "wecom", 30*time.Second, sec(40))
	require.True(t, ok)
	l.unreserve(rep, "wecom")
	_, ok = l.due(a, "wecom", 30*time.Second, sec(41))
	require.True(t, ok)
}
