package doubletick

// Group is a WhatsApp group.
type Group struct {
	ID         *string `json:"id" desc:"groupId (the Meta group id in group messages); null briefly during creation."`
	Name       *string `json:"name"`
	InviteLink *string `json:"inviteLink" desc:"Effectively a credential: do not log it."`
}

// GroupEvent is the data of group.created and group.participant.joined,
// .left and .removed.
type GroupEvent struct {
	Group         Group    `json:"group"`
	OrgID         *string  `json:"orgId"`
	IntegrationID *string  `json:"integrationId"`
	Participant   Customer `json:"participant" desc:"The participant who joined, left or was removed (customerPhone); all null for group.created."`
	At            *Time    `json:"at" desc:"groupCreatedAt, participantJoinedAt, participantLeftAt or participantRemovedAt; also the envelope's time."`
}

// groupNormalizer reads a group event whose time field is timeKey.
func groupNormalizer(timeKey string) func(Payload, Channel) Normal {
	return func(p Payload, ch Channel) Normal {
		g := GroupEvent{
			Group:         Group{ID: p.Nullable("groupId"), Name: p.Nullable("groupName"), InviteLink: p.Nullable("inviteLink")},
			OrgID:         p.Nullable("orgId"),
			IntegrationID: p.Nullable("integrationId"),
			Participant:   customerOf(p, ch, "", plusPhone("customerPhone")),
			At:            timeOf(p, timeKey),
		}
		return Normal{Data: g, Subject: g.Participant.subject()}
	}
}
