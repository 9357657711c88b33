// Package awssecret reads one secret's string from AWS Secrets Manager,
// for the configuration (see internal/config.LoadEnv).
//
// Credentials and region come from the SDK's standard chain: the
// environment, the shared config and credentials files (AWS_PROFILE),
// web identity, and the ECS or EC2 instance role. AWS_REGION,
// AWS_ENDPOINT_URL and the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN keys are read through the Getenv it is given, which is
// the process's environment in the binary, so that a test can run the
// whole command line against a local server without touching the
// process's environment.
package awssecret

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// Source fetches secrets from AWS Secrets Manager. The zero value is not
// usable: Getenv is required. It is safe for concurrent use.
type Source struct {
	// Getenv reads the AWS_* variables above; os.Getenv in the binary.
	Getenv func(string) string
	// Timeout bounds one Fetch, retries included; 0 means 10s.
	Timeout time.Duration
}

// Fetch returns the SecretString of the current version of the secret id
// (a name or an ARN). Its errors say what went wrong, never the secret.
func (s Source) Fetch(ctx context.Context, id string) (string, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var opts []func(*awsconfig.LoadOptions) error
	if r := s.Getenv("AWS_REGION"); r != "" {
		opts = append(opts, awsconfig.WithRegion(r))
	}
	if k, sec := s.Getenv("AWS_ACCESS_KEY_ID"), s.Getenv("AWS_SECRET_ACCESS_KEY"); k != "" && sec != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(k, sec, s.Getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return "", errors.New("no AWS region: set AWS_REGION (or a region in the profile's shared config)")
	}
	endpoint := s.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	if endpoint == "" {
		endpoint = s.Getenv("AWS_ENDPOINT_URL")
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", describe(ctx, err, timeout, cfg.Region, endpoint)
	}
	if out.SecretString == nil {
		return "", errors.New("the secret holds binary data, not a string; store the configuration as a JSON string")
	}
	return *out.SecretString, nil
}

// describe turns a GetSecretValue failure into a message for an operator.
func describe(ctx context.Context, err error, timeout time.Duration, region, endpoint string) error {
	where := "region " + region
	if endpoint != "" {
		where += ", endpoint " + endpoint
	}
	var api smithy.APIError
	switch {
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "ResourceNotFoundException":
			return fmt.Errorf("no such secret in %s (%s: %s)", where, api.ErrorCode(), api.ErrorMessage())
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return fmt.Errorf("access denied in %s: the credentials need secretsmanager:GetSecretValue on the secret (%s: %s)", where, api.ErrorCode(), api.ErrorMessage())
		case "DecryptionFailure":
			return fmt.Errorf("the secret cannot be decrypted in %s: the credentials need kms:Decrypt on its key (%s: %s)", where, api.ErrorCode(), api.ErrorMessage())
		}
		return fmt.Errorf("refused by Secrets Manager in %s (%s: %s)", where, api.ErrorCode(), api.ErrorMessage())
	case ctx.Err() != nil:
		return fmt.Errorf("no answer from Secrets Manager within %s (%s): %w", timeout, where, err)
	}
	return fmt.Errorf("get the secret from Secrets Manager (%s): %w", where, err)
}
