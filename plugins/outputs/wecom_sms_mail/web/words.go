package web

// words are the pages' texts in one language.
type words struct {
	Lang, Error, Expired, Invalid, Used, NotFiring, BadName, TooMany string
	Done, Claimed, Silenced, ListTitle, NamePrompt, Confirm          string
	Level, Subject, Lag, Behind, Trend, Since, ClaimedBy, Silenced2  string
	Silences, Matchers, Until, By, Expire, NoAlerts, NoSilences      string
	Actions                                                          map[Action]string
}

func lang(l string) words {
	if l == "en" {
		return words{Lang: "en", Error: "This link cannot be used",
			Expired:   "This link has expired: links last link_ttl. Open a newer message, or use the list page.",
			Invalid:   "This link is not valid (it was changed, or cut short). Nothing was changed.",
			Used:      "This link was already used by %s at %s. Nothing was changed.",
			NotFiring: "This alert is no longer firing (it resolved, or fired again since). Nothing was changed.",
			BadName:   "Please give your name (at most 64 characters).", TooMany: "Too many requests; try again in a few seconds.",
			Done: "Done", Claimed: "Claimed by %s: its reminders stop, and its destinations are told.",
			Silenced: "Silenced until %s (silence %s).", ListTitle: "CKafka lag alerts",
			NamePrompt: "Your name", Confirm: "Confirm",
			Level: "Level", Subject: "Alert", Lag: "Lag", Behind: "Behind", Trend: "Trend", Since: "Since",
			ClaimedBy: "Claimed by", Silenced2: "Silenced until", Silences: "Silences", Matchers: "Matches",
			Until: "Until", By: "By", Expire: "Expire", NoAlerts: "No alert is firing.", NoSilences: "No silence.",
			Actions: map[Action]string{ActionClaim: "Claim", ActionSilence1h: "Silence 1h", ActionSilence4h: "Silence 4h",
				ActionSilenceTomorrow: "Silence until 09:00", ActionView: "View"}}
	}
	return words{Lang: "zh", Error: "此链接无法使用",
		Expired:   "此链接已过期（有效期为 link_ttl）。请打开较新的消息，或使用告警列表页。",
		Invalid:   "此链接无效（被修改或不完整），未做任何更改。",
		Used:      "此链接已于 %[2]s 被 %[1]s 使用，未做任何更改。",
		NotFiring: "此告警已不在触发状态（已恢复，或之后重新触发），未做任何更改。",
		BadName:   "请填写姓名（最多 64 个字符）。", TooMany: "请求过多，请稍后再试。",
		Done: "完成", Claimed: "%s 已认领：不再提醒，并已通知相关接收方。",
		Silenced: "已静默至 %s（静默 %s）。", ListTitle: "CKafka 消费积压告警",
		NamePrompt: "姓名", Confirm: "确认",
		Level: "级别", Subject: "告警", Lag: "积压", Behind: "落后", Trend: "趋势", Since: "开始时间",
		ClaimedBy: "认领人", Silenced2: "静默至", Silences: "静默", Matchers: "匹配",
		Until: "截止", By: "创建人", Expire: "结束静默", NoAlerts: "当前没有告警。", NoSilences: "没有静默。",
		Actions: map[Action]string{ActionClaim: "认领", ActionSilence1h: "静默 1 小时", ActionSilence4h: "静默 4 小时",
			ActionSilenceTomorrow: "静默至明早 9 点", ActionView: "查看"}}
}
