package doubletick

import "encoding/json"

// Message is a WhatsApp (or Instagram) message as DoubleTick describes it.
// id is always DoubleTick's message id and whatsappId WhatsApp's own (wamid):
// DoubleTick calls the first dtMessageId in MESSAGE_RECEIVED but messageId in
// MESSAGE_STATUS_UPDATE, and uses messageId for the wamid in the first.
type Message struct {
	ID         *string `json:"id" desc:"DoubleTick message id."`
	WhatsAppID *string `json:"whatsappId" desc:"WhatsApp message id (wamid)."`
	Type       *string `json:"type" desc:"TEXT, IMAGE, VIDEO, AUDIO, STICKER, DOCUMENT, LOCATION, CONTACTS, BUTTON, FLOW (legacy: TEMPLATE, INTERACTIVE), as sent."`
	Text       *string `json:"text" desc:"Text of a TEXT message or a BUTTON reply."`
	Caption    *string `json:"caption"`
	MediaURL   *string `json:"mediaUrl" desc:"message.url; downloading it needs DoubleTick's API key in the Authorization header."`
	FileName   *string `json:"fileName"`
	// ReplyTo is message.context when it names a message; null otherwise.
	ReplyTo  *Reply    `json:"replyTo" desc:"The message this one replies to; null when it is not a reply."`
	Location *Location `json:"location" desc:"LOCATION messages; null otherwise."`
	Button   *Button   `json:"button" desc:"BUTTON replies; null otherwise."`
	// Contacts and FlowResponse are passed through as sent.
	Contacts     json.RawMessage `json:"contacts" desc:"CONTACTS messages: message.contacts as sent; null otherwise."`
	FlowResponse json.RawMessage `json:"flowResponse" desc:"FLOW messages: message.flowResponse as sent; null otherwise."`
}

// Reply is the context of a reply.
type Reply struct {
	ID   *string `json:"id" desc:"DoubleTick id of the message replied to (context.id)."`
	From *string `json:"from" desc:"context.from, as sent."`
}

// Location is a shared location.
type Location struct {
	Latitude  *json.Number `json:"latitude"`
	Longitude *json.Number `json:"longitude"`
	Name      *string      `json:"name"`
	Address   *string      `json:"address"`
}

// Button is a template button reply; route on payload.
type Button struct {
	ID      *string `json:"id"`
	Payload *string `json:"payload"`
}

// messageOf reads the message object m.
func messageOf(m Payload) Message {
	msg := Message{
		Type: m.Nullable("type"), Text: m.Nullable("text"), Caption: m.Nullable("caption"),
		MediaURL: m.Nullable("url"), FileName: m.Nullable("fileName"),
		Contacts: m.Raw("contacts"), FlowResponse: m.Raw("flowResponse"),
	}
	if ctx := m.Object("context"); ctx.NonEmpty("id") != nil || ctx.NonEmpty("from") != nil {
		msg.ReplyTo = &Reply{ID: ctx.NonEmpty("id"), From: ctx.NonEmpty("from")}
	}
	if m.Has("latitude") || m.Has("longitude") {
		msg.Location = &Location{Latitude: m.Number("latitude"), Longitude: m.Number("longitude"), Name: m.Nullable("name"), Address: m.Nullable("address")}
	}
	if upperOf(m, "type") == "BUTTON" || m.Has("payload") {
		msg.Button = &Button{ID: m.Nullable("id"), Payload: m.Nullable("payload")}
	}
	return msg
}

func upperOf(p Payload, key string) string {
	s, _ := p.String(key)
	return upper(s)
}

// Previous is the message before this one in the chat.
type Previous struct {
	ID     *string `json:"id" desc:"dtLastMessageId: DoubleTick id of the previous message; null for the first."`
	Origin *string `json:"origin" desc:"lastMessageOrigin: USER (an agent), CUSTOMER, SYSTEM or REMINDER."`
}

// PairedTemplate is the template a reply answers.
type PairedTemplate struct {
	ID       *string `json:"id" desc:"dtPairedTemplateId, as written (a number in DoubleTick's example)."`
	Name     *string `json:"name"`
	Language *string `json:"language"`
}

// Inbound is the data of message.received (MESSAGE_RECEIVED) and, with
// referral, message.ad_referral.received (CALL_TO_WHATSAPP_MESSAGE_RECEIVED).
type Inbound struct {
	Business Business `json:"business" desc:"The WhatsApp Business number that received the message (to)."`
	Customer Customer `json:"customer" desc:"The sender (from, contact.name)."`
	Message  Message  `json:"message"`
	// ReceivedAt is receivedAt; it is also the envelope's time.
	ReceivedAt     *Time           `json:"receivedAt"`
	Previous       Previous        `json:"previous"`
	PairedTemplate *PairedTemplate `json:"pairedTemplate" desc:"Set when the customer replies to a template; null otherwise."`
	CallbackData   *string         `json:"callbackData" desc:"Custom data of the outbound message being replied to."`
	AgentOffline   *bool           `json:"agentOffline" desc:"isAgentOffline: whether the assigned agent is offline (false when unassigned)."`
}

// AdInbound is the data of message.ad_referral.received.
type AdInbound struct {
	Inbound
	Referral *Referral `json:"referral" desc:"referralObject: the Click-to-WhatsApp ad the message came from."`
}

// GroupInbound is the data of group.message.received (WA_GROUP_MESSAGE_RECEIVED).
// The business number is not in the payload; to is the group.
type GroupInbound struct {
	Group        Group    `json:"group"`
	Customer     Customer `json:"customer" desc:"The participant who sent the message."`
	Message      Message  `json:"message"`
	ReceivedAt   *Time    `json:"receivedAt"`
	Previous     Previous `json:"previous"`
	AgentOffline *bool    `json:"agentOffline"`
}

func inboundOf(p Payload, ch Channel) Inbound {
	in := Inbound{
		Business:     businessOf(p, ch, waPhone("to")),
		Customer:     customerOf(p, ch, "", waPhone("from")),
		Message:      messageOf(p.Object("message")),
		ReceivedAt:   timeOf(p, "receivedAt"),
		Previous:     Previous{ID: p.Nullable("dtLastMessageId"), Origin: p.Nullable("lastMessageOrigin")},
		CallbackData: p.Nullable("callbackData"),
		AgentOffline: p.Bool("isAgentOffline"),
	}
	in.Customer.Name = p.Object("contact").Nullable("name")
	in.Message.ID = p.Nullable("dtMessageId")
	in.Message.WhatsAppID = p.Nullable("messageId")
	if id, name, lang := p.Nullable("dtPairedTemplateId"), p.Nullable("dtPairedTemplateName"), p.Nullable("dtPairedTemplateLanguage"); id != nil || name != nil || lang != nil {
		in.PairedTemplate = &PairedTemplate{ID: id, Name: name, Language: lang}
	}
	return in
}

func normalizeInbound(p Payload, ch Channel) Normal {
	in := inboundOf(p, ch)
	return Normal{Data: in, Account: in.Business.account(), Subject: in.Customer.subject()}
}

func normalizeAdInbound(p Payload, ch Channel) Normal {
	in := AdInbound{Inbound: inboundOf(p, ch), Referral: referralOf(p.Object("referralObject"))}
	return Normal{Data: in, Account: in.Business.account(), Subject: in.Customer.subject()}
}

func normalizeGroupInbound(p Payload, ch Channel) Normal {
	in := inboundOf(p, ch)
	g := GroupInbound{
		Group:    Group{ID: p.Nullable("to")},
		Customer: in.Customer, Message: in.Message, ReceivedAt: in.ReceivedAt,
		Previous: in.Previous, AgentOffline: in.AgentOffline,
	}
	return Normal{Data: g, Subject: g.Customer.subject()}
}

// Status is the data of message.status.updated (MESSAGE_STATUS_UPDATE).
// Here DoubleTick's `to` is the customer (the recipient), not the business.
type Status struct {
	Status     *string  `json:"status" desc:"SENT, DELIVERED, READ or FAILED, as sent."`
	StatusAt   *Time    `json:"statusAt" desc:"statusTimestamp; also the envelope's time."`
	Business   Business `json:"business" desc:"The sending account (wabaNumber); often absent for DELIVERED and READ."`
	Customer   Customer `json:"customer" desc:"The recipient (to)."`
	Message    Message  `json:"message" desc:"id is DoubleTick's (the payload's messageId); content only for SENT and FAILED."`
	Failure    *string  `json:"failure" desc:"failMessage for FAILED; null otherwise."`
	SentBy     *string  `json:"sentBy" desc:"Opaque id of the agent or system that sent the message."`
	AssignedTo *string  `json:"assignedTo" desc:"Opaque id of the agent assigned at the time."`
}

func normalizeStatus(p Payload, ch Channel) Normal {
	s := Status{
		Status: p.Nullable("status"), StatusAt: timeOf(p, "statusTimestamp"),
		Business: businessOf(p, ch, plusPhone("wabaNumber")),
		Customer: customerOf(p, ch, "customerName", waPhone("to")),
		Message:  messageOf(p.Object("message")),
		Failure:  p.NonEmpty("failMessage"), SentBy: p.Nullable("sentBy"), AssignedTo: p.Nullable("assignedTo"),
	}
	s.Message.ID = p.Nullable("messageId")
	return Normal{Data: s, Account: s.Business.account(), Subject: s.Customer.subject()}
}
