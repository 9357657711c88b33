package mongotest

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestStartParallel starts servers from parallel subtests, whose names
// ("Start#01") once broke the SQLite URI and whose concurrent starts race
// on FerretDB's globals, and checks each takes a write and reads it back.
func TestStartParallel(t *testing.T) {
	for i := range 3 {
		t.Run("Start", func(t *testing.T) {
			t.Parallel()
			c, err := mongo.Connect(options.Client().ApplyURI(Start(t)))
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer c.Disconnect(context.Background())
			coll := c.Database("d").Collection("c")
			if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "x"}, {Key: "i", Value: i}}); err != nil {
				t.Fatalf("InsertOne: %v", err)
			}
			var got struct{ I int }
			if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: "x"}}).Decode(&got); err != nil || got.I != i {
				t.Fatalf("FindOne = %+v, %v; want i %d", got, err, i)
			}
		})
	}
}
