package syncml

import "slices"

// This file is what the grammar's roles collect into the Message: where a
// value goes, when a Command or an Item starts and what an end completes.

// enter records what the start of an element of the given role means: where
// a value goes, a new item, a flag or a count. Both name paths of startTag
// call it, after command for a command.
func (s *Scanner) enter(role uint8) {
	switch role {
	case rItem:
		s.newItem()
	case rHdr:
		s.sawHdr = true
	case rFinal:
		s.msg.Final = true
	case rOther:
		s.msg.Other++
	case vVerDTD:
		s.vdst = &s.msg.Header.VerDTD
	case vVerProto:
		s.vdst = &s.msg.Header.VerProto
	case vSessionID:
		s.vdst = &s.msg.Header.SessionID
	case vMsgID:
		s.vdst = &s.msg.Header.MsgID
	case vHdrTarget:
		s.vdst = &s.msg.Header.Target
	case vHdrSource:
		s.vdst = &s.msg.Header.Source
	case vCmdID:
		s.vdst = &s.msg.Commands[s.cur].CmdID
	case vContCmdID:
		// The container's own CmdID, also after commands it holds.
		s.cur = s.parent
		s.vdst = &s.msg.Commands[s.cur].CmdID
	case rContMeta:
		// Its Format and Type are read as a command's, into the container.
		s.cur = s.parent
	case vMsgRef:
		s.vdst = &s.msg.Commands[s.cur].MsgRef
	case vCmdRef:
		s.vdst = &s.msg.Commands[s.cur].CmdRef
	case vCmd:
		s.vdst = &s.msg.Commands[s.cur].Cmd
	case vTargetRef:
		// The first TargetRef (SourceRef) of a command is kept.
		s.vdst = &s.msg.Commands[s.cur].TargetRef
		if s.tRefSet {
			s.vdst = &s.sink
		}
		s.tRefSet = true
	case vSourceRef:
		s.vdst = &s.msg.Commands[s.cur].SourceRef
		if s.sRefSet {
			s.vdst = &s.sink
		}
		s.sRefSet = true
	case vCmdData:
		s.vdst = &s.msg.Commands[s.cur].Data
	case vCmdFormat:
		s.vdst = &s.msg.Commands[s.cur].Format
	case vCmdType:
		s.vdst = &s.msg.Commands[s.cur].Type
	case vItemSource:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Source
	case vItemTarget:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Target
	case vItemData:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Data
	case vItemFormat:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Format
	case vItemType:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Type
	case vItemMark:
		s.vdst = &s.msg.Commands[s.cur].Items[s.item].Mark
	case vDirFormat:
		s.vdst = &s.dFormat
	case vDirType:
		s.vdst = &s.dType
	case vDirMark:
		s.vdst = &s.dMark
	}
}

// end finishes an element of the given role whose content ends at b. Only
// roles from rEnd up need it; a self-closing element of any role comes here.
func (s *Scanner) end(role uint8, b int) {
	if role >= rVal {
		*s.vdst = s.value(b)
		return
	}
	switch role {
	case rCont:
		s.parent = int(s.msg.Commands[s.parent].Parent)
	case rItem:
		it := &s.msg.Commands[s.cur].Items[s.item]
		if len(it.Format) == 0 {
			it.Format = s.dFormat
		}
		if len(it.Type) == 0 {
			it.Type = s.dType
		}
		if len(it.Mark) == 0 {
			it.Mark = s.dMark
		}
	}
}

// originalError stores the originalerror attribute captured by the start
// tag of a Data element of the given role.
func (s *Scanner) originalError(role uint8) {
	ov := s.attrVal
	if !s.attrSeen {
		ov = nil
	}
	c := &s.msg.Commands[s.cur]
	if role == vCmdData {
		c.OriginalError = ov
	} else {
		c.Items[s.item].OriginalError = ov
	}
	s.attrSeen, s.attrVal = false, nil
}

// command starts a new Command, reusing the backing arrays of earlier
// messages, and reports false when it would exceed Limits.MaxCommands.
func (s *Scanner) command(k Kind) bool {
	cmds := s.msg.Commands
	if len(cmds) >= s.Limits.MaxCommands {
		return false
	}
	if len(cmds) == cap(cmds) {
		cmds = growCommands(cmds)
	}
	cmds = cmds[:len(cmds)+1]
	c := &cmds[len(cmds)-1]
	items := c.Items[:0]
	*c = Command{}
	c.Kind, c.Parent, c.Items = k, int32(s.parent), items
	s.msg.Commands = cmds
	s.cur = len(cmds) - 1
	s.tRefSet, s.sRefSet = false, false
	if k.Container() {
		s.parent = s.cur
	}
	return true
}

//go:noinline
func errCommands(p int) error {
	return errAt(ReasonTooManyElements, p, "more commands than the limit")
}

// growCommands and growItems are kept out of line: they run only while a
// Scanner warms up, and inlined, their temporaries would enlarge the frame
// of the function that dispatches every element. Commands double (append
// grows large slices by 1.25x, which allocates 5x the final size in total
// under a flood of commands).
//
//go:noinline
func growCommands(c []Command) []Command { return slices.Grow(c, len(c)+1) }

//go:noinline
func growItems(it []Item) []Item { return slices.Grow(it, 1) }

func (s *Scanner) newItem() {
	c := &s.msg.Commands[s.cur]
	items := c.Items
	if len(items) == cap(items) {
		items = growItems(items)
	}
	items = items[:len(items)+1]
	items[len(items)-1] = Item{}
	c.Items = items
	s.item = len(items) - 1
	s.dFormat, s.dType, s.dMark = nil, nil, nil
}
