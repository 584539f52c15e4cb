"""Local emulators of the vendor APIs the product calls (Microsoft Graph/Entra, Auth0 Management API)."""
