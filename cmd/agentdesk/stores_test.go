package main

import "testing"

func TestServerOfHidesCredentials(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"esdb://admin:changeit@db1:2113,db2:2113?tls=false", "esdb://db1:2113,db2:2113"},
		{"mongodb://user:p%40ss@mongo-0:27017,mongo-1:27017/agentdesk?replicaSet=rs0", "mongodb://mongo-0:27017,mongo-1:27017"},
		{"mongodb+srv://u:p@cluster0.example.net", "mongodb+srv://cluster0.example.net"},
		{"esdb://127.0.0.1:2113", "esdb://127.0.0.1:2113"},
		{"not a url", "(unparsable connection string)"},
	} {
		if got := serverOf(c.in); got != c.want {
			t.Errorf("serverOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
