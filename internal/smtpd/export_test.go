package smtpd

// InflightBytes is what all sessions hold of DATA now (tests only).
func (s *Server) InflightBytes() int64 { return s.budget.inUse() }
