module example.com/fuzzshmgo

go 1.19
