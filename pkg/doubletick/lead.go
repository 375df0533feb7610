package doubletick

// Lead is the data of lead.created (NEW_LEAD): a customer's first message to
// the business, sent at most once per customer.
type Lead struct {
	Business Business    `json:"business"`
	Customer Customer    `json:"customer"`
	CTWA     *bool       `json:"ctwa" desc:"isCTWA: the customer came from a Click-to-WhatsApp ad."`
	Message  LeadMessage `json:"message"`
	Referral *Referral   `json:"referral" desc:"The ad (referral), when ctwa; null otherwise."`
}

// LeadMessage names the message that made the lead.
type LeadMessage struct {
	ID *string `json:"id" desc:"DoubleTick id of the first message (dtMessageId)."`
}

func normalizeLead(p Payload, ch Channel) Normal {
	l := Lead{
		Business: businessOf(p, ch, plusPhone("wabaNumber")),
		Customer: customerOf(p, ch, "customerName", plusPhone("customerPhone")),
		CTWA:     p.Bool("isCTWA"),
		Message:  LeadMessage{ID: p.Nullable("dtMessageId")},
		Referral: referralOf(p.Object("referral")),
	}
	if l.Business.Number == nil && l.Business.Handle == nil {
		l.Business = businessOf(p, ch, plusPhone("to"))
	}
	return Normal{Data: l, Account: l.Business.account(), Subject: l.Customer.subject()}
}

// WidgetLead is the data of lead.widget.received and lead.widget.verified.
// A widget submission is anonymous: the form is all there is until the
// customer verifies it on WhatsApp.
type WidgetLead struct {
	Form     []FormField `json:"form" desc:"data[]: the form's {field, value} pairs, field names as the admin defined them."`
	Customer Customer    `json:"customer" desc:"For verified leads: whatsappNumber and dtCustomerId. All null for unverified ones."`
	Verified bool        `json:"verified"`
}

func normalizeWidgetLead(p Payload, ch Channel) Normal {
	w := WidgetLead{Form: formOf(p, "data"), Verified: p.True("verified")}
	w.Customer = customerOf(p, ch, "", plusPhone("whatsappNumber"))
	return Normal{Data: w, Subject: w.Customer.subject()}
}
