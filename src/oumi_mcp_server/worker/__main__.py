from oumi_mcp_server.worker.host import main

main()
