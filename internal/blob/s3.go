package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3 store.
type S3Config struct {
	// Bucket is the bucket blobs are stored in; required.
	Bucket string
	// Prefix is put before every key ("agentdesk/"), so that one bucket
	// serves several deployments; empty means none.
	Prefix string
	// PathStyle addresses the bucket in the URL's path
	// (http://host/bucket/key) rather than its host name, as most
	// S3-compatible servers (MinIO, Ceph, LocalStack) need.
	PathStyle bool
	// Client, when set, is used as it is (tests); otherwise one is made
	// from the SDK's default configuration: the environment
	// (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL…), the shared
	// files, or the instance's role.
	Client *s3.Client
}

// Validate reports every problem of c.
func (c S3Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("blob: S3 Bucket is required"))
	}
	if c.Prefix != "" && !ValidKey(strings.TrimSuffix(c.Prefix, "/")) {
		errs = append(errs, fmt.Errorf("blob: S3 prefix %q: want segments of letters, digits and -_.= split by /", c.Prefix))
	}
	return errors.Join(errs...)
}

// S3 is a Store in an S3 bucket. S3 replaces an object whole, so Put is
// atomic as the contract wants.
type S3 struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string
}

// NewS3 returns an S3 store for cfg.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("blob: aws config: %w", err)
		}
		client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.UsePathStyle = cfg.PathStyle
			// Checksums only where the API requires them: S3-compatible
			// servers do not all read the trailing checksums the SDK
			// sends by default.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket, prefix: prefix}, nil
}

func (s *S3) key(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return s.prefix + key, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: &k, Body: &exactly{r: r, left: size}, ContentLength: &size}
	if contentType != "" {
		in.ContentType = &contentType
	}
	var opts []func(*s3.Options)
	if rs, ok := r.(io.ReadSeeker); ok {
		// A seekable body is signed with its hash.
		in.Body = rs
	} else {
		// A stream cannot be hashed before it is sent: it goes unsigned
		// (the request itself still is), as over TLS S3 allows.
		opts = append(opts, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	if _, err := s.client.PutObject(ctx, in, opts...); err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil {
		if notFound(err) {
			return nil, Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, err)
	}
	info := Info{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), Modified: aws.ToTime(out.LastModified).UTC()}
	if info.ContentType == "" {
		info.ContentType = "application/octet-stream"
	}
	return out.Body, info, nil
}

// Delete implements Store. S3 answers a delete of a missing key with
// success, as the contract wants.
func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k}); err != nil && !notFound(err) {
		return fmt.Errorf("blob delete %s: %w", key, err)
	}
	return nil
}

// PresignGet returns a URL that downloads the blob under key without
// credentials until ttl has passed, served with filename as its download
// name when it is set.
func (s *S3) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	k, err := s.key(key)
	if err != nil {
		return "", err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &k}
	if filename != "" {
		cd := ContentDisposition(filename)
		in.ResponseContentDisposition = &cd
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob presign %s: %w", key, err)
	}
	return req.URL, nil
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")
}
