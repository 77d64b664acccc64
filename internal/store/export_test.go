package store

// ObserveGroups reports the size of every shared send statement s runs
// (PostgreSQL only); call it before sending.
func ObserveGroups(s *Store, observe func(size int)) {
	s.sends.sizes = observe
}

// QueuedSends counts the sends waiting for a group statement (PostgreSQL only).
func QueuedSends(s *Store) int {
	s.sends.mu.Lock()
	defer s.sends.mu.Unlock()
	return len(s.sends.queue)
}
