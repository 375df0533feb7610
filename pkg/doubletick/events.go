package doubletick

// events is the event table: one row per DoubleTick event (contract §6).
// Adding an event is one row here, its JSON Schema under schemas/, and its
// fixtures under testdata/fixtures/.
func events() []EventSpec {
	return []EventSpec{
		{
			Name:       "CLOSE_CONVERSATION",
			Type:       "conversation.closed",
			Version:    1,
			Evidence:   func(p Payload) bool { return p.True("closeConversation") },
			Normalize:  normalizeConversation,
			Account:    businessAccount,
			Subject:    customerID,
			Summary:    "A conversation was closed or marked as done (WhatsApp, Instagram).",
			NaturalKey: nil, // none: body hash within the duplicate window (catalog §3.8)
		},
		{
			Name:       "CONVERSATION_OPENED",
			Aliases:    []string{"COVERSATION_OPENED"}, // typo in DoubleTick's register guide
			Type:       "conversation.opened",
			Version:    1,
			Evidence:   func(p Payload) bool { return p.True("conversationOpened") },
			Normalize:  normalizeConversation,
			Account:    businessAccount,
			Subject:    customerID,
			Summary:    "A customer started a new conversation or reopened a closed one (WhatsApp, Instagram).",
			NaturalKey: nil, // none: body hash; DoubleTick itself sends it at most once per 120 s per customer
		},
	}
}

// Business is the business side of an event: a WhatsApp Business number
// (kept as DoubleTick sent it) or an Instagram handle.
type Business struct {
	Number *string `json:"number,omitempty"`
	Handle *string `json:"handle,omitempty"`
}

// Customer is the customer side of an event. Every field is present in the
// JSON, null when DoubleTick did not send it. Phone is kept exactly as sent
// (DoubleTick mixes "+91…" and "91…" across events).
type Customer struct {
	ID     *string `json:"id"`
	Name   *string `json:"name"`
	Handle *string `json:"handle"`
	Phone  *string `json:"phone"`
}

// Conversation is the normalized data of conversation.opened and
// conversation.closed.
type Conversation struct {
	Business Business `json:"business"`
	Customer Customer `json:"customer"`
}

func normalizeConversation(p Payload, ch Channel) any {
	c := Conversation{
		Business: business(p, ch, "to"),
		Customer: Customer{
			ID:     p.First("dtCustomerId", "customerId"),
			Name:   p.Nullable("customerName"),
			Handle: p.Nullable("customerHandle"),
			Phone:  p.Nullable("customerPhone"),
		},
	}
	if c.Customer.Handle == nil && ch == Instagram {
		c.Customer.Handle = p.Nullable("from")
	}
	return c
}

// business reads the business account from key: a handle on Instagram, a
// number elsewhere.
func business(p Payload, ch Channel, key string) Business {
	v := p.Nullable(key)
	if ch == Instagram {
		return Business{Handle: v}
	}
	return Business{Number: v}
}

func businessAccount(p Payload) string {
	s, _ := p.String("to")
	return s
}

func customerID(p Payload) string {
	if s := p.First("dtCustomerId", "customerId"); s != nil {
		return *s
	}
	return ""
}
