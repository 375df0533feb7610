package doubletick

import "encoding/json"

// CallEvent is the data of the call.* lifecycle events (CALL_INCOMING_INITIATED,
// CALL_OUTGOING_INITIATED, CALL_ACCEPTED, CALL_ENDED, CALL_REJECTED,
// CALL_MISSED, CALL_NOT_PICKED), WhatsApp voice and PSTN alike. DoubleTick
// sends "" and 0 for what does not apply yet; here those are null.
type CallEvent struct {
	Call     Call     `json:"call"`
	ChatID   *string  `json:"chatId"`
	Business Business `json:"business" desc:"wabaNumber (WhatsApp) or channelNumber (PSTN)."`
	Customer Customer `json:"customer" desc:"customerNumber (WhatsApp, no +), or from on PSTN."`
	// Missed is only set by CALL_MISSED.
	Missed *Missed `json:"missed" desc:"CALL_MISSED only; null otherwise."`
}

// Call is one voice call.
type Call struct {
	ID            *string      `json:"id" desc:"callId: correlates the events of one call."`
	Direction     *string      `json:"direction" desc:"INCOMING or OUTGOING."`
	Status        *string      `json:"status" desc:"INITIATED, IN_PROGRESS, END, REJECT, MISSED or FAILED, as sent."`
	FailedReason  *string      `json:"failedReason"`
	Duration      *json.Number `json:"durationSeconds"`
	StartedAt     *Time        `json:"startedAt"`
	EndedAt       *Time        `json:"endedAt"`
	PickedBy      *string      `json:"pickedBy"`
	RejectedBy    *string      `json:"rejectedBy"`
	EndedBy       *string      `json:"endedBy"`
	RecordingURL  *string      `json:"recordingUrl" desc:"Signed; fetch with ?token=<DoubleTick API key>."`
	DeviceID      *string      `json:"deviceId"`
	ChatMessageID *string      `json:"chatMessageId"`
}

// Missed are the extra facts of a missed call.
type Missed struct {
	NewCaller    *bool `json:"newCaller"`
	ChatAssigned *bool `json:"chatAssigned"`
}

func normalizeCall(p Payload, ch Channel) Normal {
	c := CallEvent{
		Call: Call{
			ID: p.NonEmpty("callId"), Direction: p.NonEmpty("callDirection"), Status: p.NonEmpty("callStatus"),
			FailedReason: p.NonEmpty("failedReason"), Duration: p.Number("durationInSeconds"),
			StartedAt: timeOf(p, "callStartedAt"), EndedAt: timeOf(p, "callEndedAt"),
			PickedBy: p.NonEmpty("pickedBy"), RejectedBy: p.NonEmpty("rejectedBy"), EndedBy: p.NonEmpty("endedBy"),
			RecordingURL: p.NonEmpty("recordingUrl"), DeviceID: p.NonEmpty("deviceId"),
			ChatMessageID: p.NonEmpty("chatMessageId"),
		},
		ChatID: p.NonEmpty("chatId"),
	}
	if ch == PSTN {
		// PSTN numbers are not WhatsApp ids: no E.164 unless sent with +.
		c.Business = businessOf(p, ch, plusPhone(firstKey(p, "channelNumber", "wabaNumber")))
		c.Customer = customerOf(p, ch, "customerName", plusPhone(firstKey(p, "customerNumber", "from")))
	} else {
		c.Business = businessOf(p, ch, waPhone("wabaNumber"))
		c.Customer = customerOf(p, ch, "customerName", waPhone("customerNumber"))
	}
	if p.Has("isNewCaller") || p.Has("isChatAssigned") {
		c.Missed = &Missed{NewCaller: p.Bool("isNewCaller"), ChatAssigned: p.Bool("isChatAssigned")}
	}
	return Normal{Data: c, Account: c.Business.account(), Subject: c.Customer.subject()}
}

// firstKey returns the first of keys holding a non-empty value, else the first.
func firstKey(p Payload, keys ...string) string {
	for _, k := range keys {
		if p.NonEmpty(k) != nil {
			return k
		}
	}
	return keys[0]
}

// PermissionReply is the data of call.permission.replied
// (CALL_PERMISSION_REPLY_RECEIVED): the customer's answer to a request for
// permission to call them.
type PermissionReply struct {
	Response   *string  `json:"response" desc:"accept or reject."`
	Source     *string  `json:"source" desc:"responseSource, e.g. user_initiated."`
	Permanent  *bool    `json:"permanent" desc:"isPermanent."`
	ExpiresAt  *Time    `json:"expiresAt" desc:"expirationTimestamp (Unix seconds in the payload)."`
	ReceivedAt *Time    `json:"receivedAt"`
	Business   Business `json:"business" desc:"to."`
	Customer   Customer `json:"customer" desc:"from."`
	Message    Message  `json:"message" desc:"whatsappId is the reply's WhatsApp id (messageId); replyTo.id the request's (pairedMessageId)."`
}

func normalizePermissionReply(p Payload, ch Channel) Normal {
	r := PermissionReply{
		Response: p.Nullable("response"), Source: p.Nullable("responseSource"),
		Permanent: p.Bool("isPermanent"), ExpiresAt: unixTimeOf(p, "expirationTimestamp"),
		ReceivedAt: timeOf(p, "receivedAt"),
		Business:   businessOf(p, ch, plusPhone("to")),
		Customer:   customerOf(p, ch, "", plusPhone("from")),
		Message:    Message{WhatsAppID: p.Nullable("messageId")},
	}
	if id := p.NonEmpty("pairedMessageId"); id != nil {
		r.Message.ReplyTo = &Reply{ID: id}
	}
	return Normal{Data: r, Account: r.Business.account(), Subject: r.Customer.subject()}
}
