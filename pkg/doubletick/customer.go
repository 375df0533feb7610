package doubletick

// TagChange is the data of customer.tag.added and customer.tag.removed.
type TagChange struct {
	Tag      Tag      `json:"tag"`
	Customer Customer `json:"customer" desc:"from is the customer's phone on WhatsApp; customerHandle identifies the customer on other channels."`
}

// Tag is a DoubleTick tag.
type Tag struct {
	ID   *string `json:"id"`
	Name *string `json:"name"`
}

func normalizeTag(p Payload, ch Channel) Normal {
	t := TagChange{
		Tag:      Tag{ID: p.Nullable("tagId"), Name: p.Nullable("tagName")},
		Customer: customerOf(p, ch, "", plusPhone("from")),
	}
	return Normal{Data: t, Subject: t.Customer.subject()}
}

// FieldChange is the data of customer.field.updated (UPDATE_CUSTOMER_CUSTOM_FIELD).
type FieldChange struct {
	Change    *string  `json:"change" desc:"customFieldEventType: ATTRIBUTE_SET, ATTRIBUTE_UPDATE or ATTRIBUTE_REMOVED."`
	Field     Field    `json:"field"`
	ChangedAt *Time    `json:"changedAt" desc:"Also the envelope's time."`
	Business  Business `json:"business"`
	Customer  Customer `json:"customer" desc:"name is DoubleTick's name for the customer; nameOnWhatsApp the profile name."`
	// NameOnWhatsApp is the customer's WhatsApp profile name (a snapshot).
	NameOnWhatsApp *string `json:"nameOnWhatsApp"`
}

// Field is a user-defined customer field and its new value.
type Field struct {
	ID         *string `json:"id" desc:"customFieldId: the stable key."`
	UniqueName *string `json:"uniqueName"`
	Type       *string `json:"type" desc:"text, number, date, boolean, single_select or multi_select; values are always strings."`
	Value      *string `json:"value" desc:"The current value; null when removed."`
}

func normalizeField(p Payload, ch Channel) Normal {
	f := FieldChange{
		Change: p.Nullable("customFieldEventType"),
		Field: Field{
			ID: p.Nullable("customFieldId"), UniqueName: p.Nullable("customFieldUniqueName"),
			Type: p.Nullable("customFieldType"), Value: p.Nullable("value"),
		},
		ChangedAt:      timeOf(p, "changedAt"),
		Business:       businessOf(p, ch, plusPhone("wabaNumber")),
		Customer:       customerOf(p, ch, "name", plusPhone("customerPhone")),
		NameOnWhatsApp: p.Nullable("nameOnWhatsapp"),
	}
	return Normal{Data: f, Account: f.Business.account(), Subject: f.Customer.subject()}
}

// NoteChange is the data of customer.note.created, .updated and .deleted.
type NoteChange struct {
	Note     Note     `json:"note"`
	Agent    Agent    `json:"agent" desc:"Who created, updated or deleted the note (name and phone only)."`
	At       *Time    `json:"at" desc:"createdAt, updatedAt or deletedAt; also the envelope's time."`
	Business Business `json:"business"`
	Customer Customer `json:"customer"`
}

// Note is a customer note; text is the full text (after the change; the
// deleted text for a deletion).
type Note struct {
	ID   *string `json:"id"`
	Text *string `json:"text"`
}

// noteNormalizer reads a note event whose agent and time fields start with
// verb ("created", "updated", "deleted").
func noteNormalizer(verb string) func(Payload, Channel) Normal {
	return func(p Payload, ch Channel) Normal {
		n := NoteChange{
			Note:     Note{ID: p.Nullable("noteId"), Text: p.Nullable("note")},
			Agent:    Agent{Name: p.Nullable(verb + "ByAgent"), Phone: p.Nullable(verb + "ByAgentNumber")},
			At:       timeOf(p, verb+"At"),
			Business: businessOf(p, ch, plusPhone("wabaNumber")),
			Customer: customerOf(p, ch, "customerName", plusPhone("customerPhone")),
		}
		return Normal{Data: n, Account: n.Business.account(), Subject: n.Customer.subject()}
	}
}
