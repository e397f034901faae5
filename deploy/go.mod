module github.com/distilbert-go/distilbert/deploy

go 1.26
