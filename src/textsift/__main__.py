from textsift.cli.app import main

main()
