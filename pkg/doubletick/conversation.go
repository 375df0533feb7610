package doubletick

import "encoding/json"

// Conversation is the data of conversation.opened and conversation.closed.
// DoubleTick sends no conversation id and no time with either.
type Conversation struct {
	Business Business `json:"business"`
	Customer Customer `json:"customer"`
}

func normalizeConversation(p Payload, ch Channel) Normal {
	c := Conversation{
		Business: businessOf(p, ch, plusPhone("to")),
		Customer: customerOf(p, ch, "customerName", plusPhone("customerPhone")),
	}
	if ch == Instagram && c.Customer.Handle == nil {
		c.Customer.Handle = p.Nullable("from") // the customer's handle on Instagram
	}
	return Normal{Data: c, Account: c.Business.account(), Subject: c.Customer.subject()}
}

// Assignment is the data of conversation.assigned (CHAT_ASSIGNED_TO_AGENT).
type Assignment struct {
	ChatID   *string  `json:"chatId" desc:"DoubleTick conversation (chat) id."`
	Agent    Agent    `json:"agent" desc:"The agent the conversation was assigned to."`
	Roles    Roles    `json:"roles"`
	Customer Customer `json:"customer"`
	// Description is DoubleTick's human-readable account of the action.
	Description *string `json:"description" desc:"message.text: who assigned the conversation to whom."`
}

// Roles are the assigned agent's roles.
type Roles struct {
	Org        *string `json:"org" desc:"assignedUserOrgRole."`
	WABA       *string `json:"waba" desc:"assignedUserWabaRole."`
	WABANumber *string `json:"wabaNumber" desc:"assignedUserWabaNumber: the WhatsApp Business number the WABA role belongs to."`
}

func normalizeAssigned(p Payload, ch Channel) Normal {
	a := Assignment{
		ChatID: p.Nullable("chatId"),
		Agent: Agent{
			ID: p.Nullable("assignedUserId"), Name: p.Nullable("assignedUserName"),
			Phone: p.Nullable("assignedUserPhone"), Email: p.Nullable("assignedUserEmail"),
		},
		Roles: Roles{
			Org: p.Nullable("assignedUserOrgRole"), WABA: p.Nullable("assignedUserWabaRole"),
			WABANumber: p.Nullable("assignedUserWabaNumber"),
		},
		Customer:    customerOf(p, ch, "", plusPhone("customerPhone")),
		Description: p.Object("message").Nullable("text"),
	}
	return Normal{Data: a, Subject: a.Customer.subject()}
}

// Unassignment is the data of conversation.unassigned (CHAT_UNASSIGNED).
type Unassignment struct {
	ChatID   *string  `json:"chatId" desc:"DoubleTick conversation (chat) id."`
	Business Business `json:"business"`
	Customer Customer `json:"customer"`
}

func normalizeUnassigned(p Payload, ch Channel) Normal {
	u := Unassignment{
		ChatID:   p.Nullable("chatId"),
		Business: businessOf(p, ch, plusPhone("wabaNumber")),
		Customer: customerOf(p, ch, "", plusPhone("customerPhone")),
	}
	return Normal{Data: u, Account: u.Business.account(), Subject: u.Customer.subject()}
}

// Cost is the data of conversation.cost.deducted (CONVERSATION_COST_DEDUCTED).
type Cost struct {
	ConversationID   *string      `json:"conversationId" desc:"Billing conversation (window) id."`
	ConversationType *string      `json:"conversationType" desc:"USER_INITIATED, BUSINESS_INITIATED, SERVICE or REFERRAL_CONVERSION, as sent."`
	CountryCode      *string      `json:"countryCode" desc:"ISO country of the customer's number."`
	Cost             *json.Number `json:"cost" desc:"Amount in the wallet's currency, exactly as sent."`
	Business         Business     `json:"business"`
	Customer         Customer     `json:"customer"`
}

func normalizeCost(p Payload, ch Channel) Normal {
	c := Cost{
		ConversationID: p.Nullable("conversationId"), ConversationType: p.Nullable("conversationType"),
		CountryCode: p.Nullable("countryCode"), Cost: p.Number("cost"),
		Business: businessOf(p, ch, plusPhone("wabaNumber")),
		Customer: customerOf(p, ch, "customerName", plusPhone("customerPhone")),
	}
	return Normal{Data: c, Account: c.Business.account(), Subject: c.Customer.subject()}
}
